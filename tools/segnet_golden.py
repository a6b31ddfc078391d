#!/usr/bin/python3
"""Golden values for the segnet network (Bayesian SegNet) from an independent implementation:
PyTorch, bench/torch_segnet.py.

Same conventions as tools/unet_golden.py: the module is filled with random weights and
non-trivial batch-norm running statistics, computed in float64 and stored as F32. Unlike
unet_golden.py, weights, running statistics, input and R are rounded to float32 before the
float64 computation, so the goldens belong to exactly the stored values. Writes to
tests/golden/model/:

  segnet_tiny.safetensors          weights under their state_dict names (no
                                   num_batches_tracked, no task.log_var), network JSON in
                                   __metadata__ "network"
  segnet_tiny_golden.safetensors   "golden.input" [2,3,16,32], "golden.output" (train mode:
                                   batch statistics, dropout off), "golden.output_eval" (eval
                                   mode: running statistics), "golden.grad_output" (R, the loss
                                   being sum(out * R)), "golden.grad.<name>" for every trained
                                   parameter, "golden.after.<bn>.running_mean/var" after the
                                   train-mode forward (momentum 0.1, unbiased variance)
  segnet_small.safetensors         the exact segnet-small preset's weights
  segnet_small_golden.safetensors  "golden.input" [1,3,32,32], "golden.output",
                                   "golden.output_eval" only (no gradients: small files)

The tiny description, widths [4,6,8,8] and convs [2,1,3,2] (L = 4), puts one stage at each
edge of the rules: a one-conv stage (decoder j = 2, level 1, whose only conv both starts the
stage and narrows it to widths[0]), encoder stages with and without dropout, the decoder stage
without dropout (j = 3), and distinct widths so a swapped in/out channel count shows.
Dropout is off for the goldens (p = 0 in the module; the stored JSON keeps 0.5), as for unet.

Max-pool ties. After ReLU many 2x2 windows hold several equal values: zeros. PyTorch takes
the first maximum; oneDNN (the C side) may take another. A window whose maximum is 0 unpools
to the same zeros wherever the index points, and its gradient ends at a ReLU whose input was
negative, so it is harmless. What is not harmless is a window whose two largest values are
distinct in float64 but so close (or its maximum so close to 0) that float32 arithmetic could
swap them. Defence: weights, BN affine parameters and running statistics are continuous
random values (no two activations coincide except as ReLU zeros), and for each pooling layer,
in both the train-mode and eval-mode forward, the script counts "near ties": windows whose
maximum is non-zero and whose top two values differ by less than 1e-6 (the second may be a
ReLU zero, so a tiny positive maximum counts too). Since float32 error through
a deep net can exceed 1e-6, it also counts windows with a gap below a wider margin, 1e-4.
It starts from a fixed seed and takes the first seed for which both counts are 0 for both
files (printed, with the smallest gap seen). It also reruns both modes in float32 from the rounded weights and counts windows with a
non-zero maximum whose argmax differs from float64's: that is the failure the C test would
see, and it must be 0 too. Last, for the gradients: a ReLU input within 1e-6 of 0 in the
train-mode forward could change sides in float32 and gate a gradient differently, so that
count must be 0 as well.

Float32 conditioning. The float32 rerun of segnet_small's train-mode forward is off the
float64 golden by 1.4e-5 to 1.1e-4 (relative L2) over seeds 11..40, eval mode by ~5e-7, the
tiny network by ~2e-6: the error doubles every few train-mode BN layers, most around the 2x2
bottleneck where each channel's batch statistics come from 4 values (a NumPy float32 rerun
with two-pass variance is off by the same order, so it is the network, not PyTorch's BN). The seed
search therefore also asks that rerun's output error to be below 2.5e-5 in both modes, a
4x margin to the 1e-4 the C tests use; a C test of segnet_small's train-mode output may
still need a looser tolerance than unet's.

Run from the repository root: nice -n 19 /usr/bin/python3 tools/segnet_golden.py
(needs Debian's python3-torch, python3-numpy; tools/segnet_check.py checks the results
against a NumPy re-implementation).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_segnet import PRESETS, SegNet  # noqa: E402  (the benchmarks' module too)
from unet_golden import write_safetensors  # noqa: E402  (same writer, same file layout)

TINY = {"arch": "segnet", "in_channels": 3, "classes": 3, "widths": [4, 6, 8, 8],
        "convs": [2, 1, 3, 2], "dropout": 0.5}
OUT = os.path.join("tests", "golden", "model")
JOBS = [
    # name, description, (batch, height, width), with gradients
    ("segnet_tiny", TINY, (2, 16, 32), True),
    ("segnet_small", PRESETS["segnet-small"], (1, 32, 32), False),
]
FIRST_SEED = 11
NEAR_TIE = 1e-6
MARGIN = 1e-4
F32_ERR = 2.5e-5


def randomise(net):
    """Continuous random values everywhere; conv weights scaled by fan-in (He) so that
    eval-mode activations stay O(1) through the depth of segnet-small."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn_like(p) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("bn.weight"):
                p.copy_(torch.rand_like(p) + 0.5)
            else:  # bn.bias, head.bias, task.log_var
                p.copy_(torch.randn_like(p) * 0.2)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)


def activations(net, x, train):
    """(the tensors each encoder stage max-pools, i.e. its last unit's output; every unit's
    batch-norm output, i.e. its ReLU's input; the output) for net(x) in the given mode;
    running statistics are restored afterwards."""
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    pooled, relu_in = [], []
    hooks = [stage[-1].register_forward_hook(lambda m, i, o: pooled.append(o.detach()))
             for stage in net.enc]
    hooks += [unit.bn.register_forward_hook(lambda m, i, o: relu_in.append(o.detach()))
              for stages in (net.enc, net.dec) for stage in stages for unit in stage]
    net.train(train)
    with torch.no_grad():
        out = net(x)
    for h in hooks:
        h.remove()
    net.load_state_dict(saved)
    return pooled, relu_in, out.double()


def windows(t):
    """[..., 4] the 2x2 windows of a pooled NCHW tensor, row-major within each window."""
    n, c, h, w = t.shape
    return t.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4)


def near_ties(tensors, threshold):
    """(windows with a non-zero maximum and top-two gap < threshold, smallest such gap)."""
    count, smallest = 0, float("inf")
    for t in tensors:
        v = windows(t).sort(dim=-1, descending=True).values
        top, gap = v[..., 0], v[..., 0] - v[..., 1]
        live = top != 0
        count += int(((gap < threshold) & live).sum())
        if live.any():
            smallest = min(smallest, float(gap[live].min()))
    return count, smallest


def argmax_flips(a64, a32):
    """Windows with a non-zero float64 maximum whose argmax float32 puts elsewhere."""
    flips = 0
    for t64, t32 in zip(a64, a32):
        w64, w32 = windows(t64), windows(t32)
        live = w64.max(dim=-1).values != 0
        flips += int(((w64.argmax(dim=-1) != w32.argmax(dim=-1)) & live).sum())
    return flips


def build(desc, shape, seed):
    torch.manual_seed(seed)
    net = SegNet(dict(desc, dropout=0.0)).double()  # dropout off: deterministic goldens
    randomise(net)
    batch, height, width = shape
    x = torch.rand(batch, desc["in_channels"], height, width, dtype=torch.float64)
    r = torch.randn(batch, desc["classes"] + 3, height, width, dtype=torch.float64)
    # Everything stored as F32 is rounded to float32 first, so the goldens are the float64
    # results for exactly the stored weights, input and R.
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            if t.is_floating_point():
                t.copy_(t.float().double())
    return net, x.float().double(), r.float().double()


def tie_report(desc, net, x):
    """Over both modes: (near ties < NEAR_TIE, < MARGIN, smallest gap, float32 argmax flips,
    ReLU inputs within NEAR_TIE of 0 in the train-mode forward, the float32 rerun's relative
    output error in train and in eval mode)."""
    net32 = SegNet(dict(desc, dropout=0.0))
    net32.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in net.state_dict().items()})
    ties, wide, gap, flips, gates, f32 = 0, 0, float("inf"), 0, 0, []
    for train in (True, False):
        a64, relu_in, o64 = activations(net, x, train)
        a32, _, o32 = activations(net32, x.float(), train)
        f32.append(float((o32 - o64).norm() / o64.norm()))
        c, g = near_ties(a64, NEAR_TIE)
        ties, gap = ties + c, min(gap, g)
        wide += near_ties(a64, MARGIN)[0]
        flips += argmax_flips(a64, a32)
        if train:
            gates = sum(int((t.abs() < NEAR_TIE).sum()) for t in relu_in)
    return ties, wide, gap, flips, gates, f32


def main():
    seed = FIRST_SEED
    while True:
        built, ok, lines = [], True, []
        for name, desc, shape, grads in JOBS:
            net, x, r = build(desc, shape, seed)
            ties, wide, gap, flips, gates, f32 = tie_report(desc, net, x)
            lines.append(f"  {name}: {ties} near ties (non-zero max, top-two gap < {NEAR_TIE:g}),"
                         f" {wide} with gap < {MARGIN:g}, smallest gap {gap:.3g},"
                         f" {flips} float32 argmax flips; {gates} train-mode ReLU inputs"
                         f" within {NEAR_TIE:g} of 0; float32 rerun's output rel err train"
                         f" {f32[0]:.2g}, eval {f32[1]:.2g}")
            ok = (ok and ties == 0 and wide == 0 and flips == 0 and gates == 0
                  and max(f32) < F32_ERR)
            built.append((name, desc, net, x, r, grads))
        print(f"seed {seed}:", file=sys.stderr)
        print("\n".join(lines), file=sys.stderr)
        if ok:
            break
        seed += 1

    for name, desc, net, x, r, grads in built:
        state = {k: v.detach().clone() for k, v in net.state_dict().items()
                 if "num_batches" not in k and not k.startswith("task.")}
        net.eval()
        with torch.no_grad():
            out_eval = net(x)
        net.train()
        out = net(x)
        meta = {"network": json.dumps(desc, separators=(",", ":")), "format": "doubt-golden"}
        weights = os.path.join(OUT, name + ".safetensors")
        golden = os.path.join(OUT, name + "_golden.safetensors")
        write_safetensors(weights, {k: v.numpy() for k, v in state.items()}, meta)
        tensors = {"golden.input": x.numpy(), "golden.output": out.detach().numpy(),
                   "golden.output_eval": out_eval.numpy()}
        if grads:
            (out * r).sum().backward()
            tensors["golden.grad_output"] = r.numpy()
            for pname, p in net.named_parameters():
                if not pname.startswith("task."):  # not in the forward: no gradient
                    tensors["golden.grad." + pname] = p.grad.numpy()
            for bname, b in net.named_buffers():
                if "running" in bname:
                    tensors["golden.after." + bname] = b.numpy()
        write_safetensors(golden, tensors, meta)
        print(f"wrote {weights} ({len(state)} tensors, {os.path.getsize(weights)} bytes), "
              f"{golden} ({len(tensors)} tensors, {os.path.getsize(golden)} bytes); "
              f"output rms train {float(out.pow(2).mean().sqrt()):.3g}, "
              f"eval {float(out_eval.pow(2).mean().sqrt()):.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
