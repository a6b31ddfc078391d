#!/usr/bin/python3
"""Checks tools/segnet_golden.py's files against a second computation that does not use the
PyTorch module: NumPy, float64, written from the spec alone.

1. Tensor names and shapes of segnet_tiny.safetensors against a table written out by hand
   from the spec (not computed by bench/torch_segnet.py's stage_channels), and the same
   table against the module's state_dict order.
2. Max-pool-with-indices and max-unpool in NumPy against PyTorch's (indices and placement)
   on a small random tensor.
3. The whole tiny network's forward in NumPy (conv by shifted sums, batch norm, ReLU, pool
   with indices, unpool) from the stored weights: eval mode against golden.output_eval, train
   mode against golden.output, the updated running statistics against golden.after.*, and
   central finite differences of sum(out * R) for a few parameters against golden.grad.*.
4. segnet_small: NumPy eval-mode and train-mode forward against its goldens.
5. The parameter counts in params.json (segnet, segnet-small, segnet-tiny) against a
   closed-form count written from the spec.

Run from the repository root: nice -n 19 /usr/bin/python3 tools/segnet_check.py
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_unet import read_safetensors  # noqa: E402  (a file reader, no network code)

GOLD = os.path.join("tests", "golden", "model")

# The tiny description {"widths":[4,6,8,8],"convs":[2,1,3,2],"in_channels":3,"classes":3}
# worked out by hand from the spec: (stage, [(in, out) per conv]).
TINY_TABLE = [
    ("enc.0", [(3, 4), (4, 4)]),
    ("enc.1", [(4, 6)]),
    ("enc.2", [(6, 8), (8, 8), (8, 8)]),
    ("enc.3", [(8, 8), (8, 8)]),
    ("dec.0", [(8, 8), (8, 8)]),          # level 3: last conv to widths[2] = 8
    ("dec.1", [(8, 8), (8, 8), (8, 6)]),  # level 2: last conv to widths[1] = 6
    ("dec.2", [(6, 4)]),                  # level 1: its only conv to widths[0] = 4
    ("dec.3", [(4, 4), (4, 4)]),          # level 0: widths[0] for i = 0
]


def expected_names(table, classes, width0):
    names = []
    for stage, convs in table:
        for k, (cin, cout) in enumerate(convs):
            names.append((f"{stage}.{k}.conv.weight", (cout, cin, 3, 3)))
            for leaf in ("weight", "bias", "running_mean", "running_var"):
                names.append((f"{stage}.{k}.bn.{leaf}", (cout,)))
    names += [("head.weight", (classes + 3, width0, 1, 1)), ("head.bias", (classes + 3,))]
    return names


def conv3x3(x, w):
    n, c, h, wd = x.shape
    xp = np.zeros((n, c, h + 2, wd + 2))
    xp[:, :, 1:-1, 1:-1] = x
    out = np.zeros((n, w.shape[0], h, wd))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("oc,nchw->nohw", w[:, :, dy, dx], xp[:, :, dy:dy + h, dx:dx + wd])
    return out


def batchnorm(x, t, prefix, train, after):
    g, b = t[prefix + "weight"], t[prefix + "bias"]
    if train:
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        m = x.shape[0] * x.shape[2] * x.shape[3]
        after[prefix + "running_mean"] = 0.9 * t[prefix + "running_mean"] + 0.1 * mean
        after[prefix + "running_var"] = (0.9 * t[prefix + "running_var"]
                                         + 0.1 * var * m / (m - 1))
    else:
        mean, var = t[prefix + "running_mean"], t[prefix + "running_var"]
    c = (slice(None), None, None)
    return (x - mean[c]) / np.sqrt(var[c] + 1e-5) * g[c] + b[c]


def pool(x):
    """2x2/2 max pool; indices flattened per (n, c) plane (h * W + w), first maximum wins."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        n, c, h // 2, w // 2, 4)
    arg = win.argmax(axis=-1)
    rows = 2 * np.arange(h // 2)[:, None] + arg // 2
    cols = 2 * np.arange(w // 2)[None, :] + arg % 2
    return win.max(axis=-1), rows * w + cols


def unpool(y, idx, h, w):
    n, c = y.shape[:2]
    out = np.zeros((n, c, h * w))
    np.put_along_axis(out, idx.reshape(n, c, -1), y.reshape(n, c, -1), axis=2)
    return out.reshape(n, c, h, w)


def forward(t, net, x, train):
    """The spec's forward, read off the weight names; returns (output, updated stats)."""
    levels = len(net["widths"])
    after, saved = {}, []

    def units(stage, x):
        k = 0
        while f"{stage}.{k}.conv.weight" in t:
            p = f"{stage}.{k}."
            x = np.maximum(batchnorm(conv3x3(x, t[p + "conv.weight"]), t, p + "bn.", train,
                                     after), 0)
            k += 1
        assert k == net["convs"][int(stage[4:]) if stage[0] == "e"
                                 else levels - 1 - int(stage[4:])], (stage, k)
        return x

    for i in range(levels):
        x = units(f"enc.{i}", x)
        saved.append(x.shape[2:])
        x, idx = pool(x)
        saved[-1] = (saved[-1], idx)
    for j in range(levels):
        (h, w), idx = saved[levels - 1 - j]
        x = units(f"dec.{j}", unpool(x, idx, h, w))
    out = np.einsum("oc,nchw->nohw", t["head.weight"][:, :, 0, 0], x)
    return out + t["head.bias"][None, :, None, None], after


def spec_count(d):
    """Trained parameters (no task.log_var, no buffers): convs and BN affine, then the head."""
    w, convs, levels = d["widths"], d["convs"], len(d["widths"])
    n, prev = 0, d["in_channels"]
    for i in range(levels):
        for k in range(convs[i]):
            n, prev = n + prev * w[i] * 9 + 2 * w[i], w[i]
    for i in reversed(range(levels)):
        for k in range(convs[i]):
            out = w[i] if k < convs[i] - 1 else w[max(i - 1, 0)]
            n, prev = n + prev * out * 9 + 2 * out, out
    return n + (d["classes"] + 3) * (w[0] + 1)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def load(name):
    w, meta = read_safetensors(os.path.join(GOLD, name + ".safetensors"))
    g, _ = read_safetensors(os.path.join(GOLD, name + "_golden.safetensors"))
    w = {k: v.astype(np.float64) for k, v in w.items()}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    return w, g, json.loads(meta["network"])


def main():
    import torch
    import torch.nn.functional as F
    from torch_segnet import SegNet

    failed = []

    def report(what, err, tol):
        ok = err <= tol
        if not ok:
            failed.append(what)
        print(f"  {what}: {err:.2e} ({'ok' if ok else 'FAIL'}, tolerance {tol:g})")

    # 1. names and shapes
    w, g, net = load("segnet_tiny")
    want = expected_names(TINY_TABLE, net["classes"], net["widths"][0])
    have = [(k, tuple(v.shape)) for k, v in w.items()]
    module = [(k, tuple(v.shape)) for k, v in SegNet(net).state_dict().items()
              if not k.endswith("num_batches_tracked") and k != "task.log_var"]
    print(f"1. tiny names and shapes vs the hand-written table: file "
          f"{'same' if have == want else 'DIFFERENT'}, module state_dict order "
          f"{'same' if module == want else 'DIFFERENT'} ({len(want)} tensors)")
    if have != want or module != want:
        failed.append("names")

    # 2. pool/unpool
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 6, 8))
    y, idx = pool(a)
    ty, tidx = F.max_pool2d(torch.from_numpy(a), 2, 2, return_indices=True)
    tun = F.max_unpool2d(ty, tidx, 2, 2, output_size=(6, 8)).numpy()
    same_idx = np.array_equal(idx, tidx.numpy())
    print(f"2. pool/unpool on a random [2,3,6,8]: indices {'equal' if same_idx else 'DIFFER'}, "
          f"pooled max diff {np.abs(y - ty.numpy()).max():.1e}, unpooled max diff "
          f"{np.abs(unpool(y, idx, 6, 8) - tun).max():.1e}, unpooled non-zeros "
          f"{int((tun != 0).sum())} of {tun.size}")
    if not same_idx or not np.array_equal(unpool(y, idx, 6, 8), tun):
        failed.append("pool/unpool")

    # 3. the tiny network
    print("3. segnet_tiny, NumPy forward from the stored F32 weights vs the goldens "
          "(relative L2 error):")
    x = g["golden.input"]
    out_eval, _ = forward(w, net, x, False)
    report("eval-mode output", rel(out_eval, g["golden.output_eval"]), 1e-6)
    out, after = forward(w, net, x, True)
    report("train-mode output", rel(out, g["golden.output"]), 1e-6)
    report("running statistics after (worst)",
           max(rel(v, g["golden.after." + k]) for k, v in after.items()), 1e-6)
    if len(after) != sum(k.startswith("golden.after.") for k in g):
        failed.append("after count")
    r = g["golden.grad_output"]
    for name, index in [("enc.0.0.conv.weight", (1, 2, 0, 1)), ("enc.1.0.bn.weight", (3,)),
                        ("enc.3.1.conv.weight", (2, 5, 1, 1)), ("dec.1.2.bn.bias", (4,)),
                        ("dec.2.0.conv.weight", (0, 3, 2, 2)), ("dec.3.1.bn.weight", (1,)),
                        ("head.weight", (4, 2, 0, 0)), ("head.bias", (3,))]:
        h, loss = 1e-6, []  # 1e-4 crosses max-pool/ReLU kinks for early parameters
        for s in (1, -1):
            t = dict(w)
            t[name] = w[name].copy()
            t[name][index] += s * h
            loss.append(float((forward(t, net, x, True)[0] * r).sum()))
        fd = (loss[0] - loss[1]) / (2 * h)
        gold = g["golden.grad." + name][index]
        report(f"d loss / d {name}{list(index)}: finite difference {fd:.6g}, golden {gold:.6g}",
               abs(fd - gold) / max(abs(gold), 1e-3), 1e-5)

    # 4. segnet-small
    print("4. segnet_small, NumPy forward vs the goldens:")
    w, g, net = load("segnet_small")
    report("eval-mode output", rel(forward(w, net, g["golden.input"], False)[0],
                                   g["golden.output_eval"]), 1e-6)
    report("train-mode output", rel(forward(w, net, g["golden.input"], True)[0],
                                    g["golden.output"]), 1e-6)
    # 5. parameter counts
    print("5. params.json parameter counts vs a closed-form count from the spec:")
    with open(os.path.join(GOLD, "params.json")) as f:
        params = json.load(f)
    for key in ("segnet", "segnet-small", "segnet-tiny"):
        d = json.loads(params[key]["network"])
        n = spec_count(d)
        ok = n == params[key]["parameters"] and n + 2 == params[key]["parameters_with_task"]
        if not ok:
            failed.append(key + " count")
        print(f"  {key}: {n} ({'ok' if ok else 'FAIL, params.json has ' + str(params[key]['parameters'])})")
    print("all checks passed" if not failed else f"FAILED: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
