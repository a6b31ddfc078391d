#!/usr/bin/python3
"""Golden values of a deep ensemble's pooled maps (src/model/mc.h), from the definitions,
in NumPy (Debian's python3-numpy), independent of the engine's running statistics.

    tools/ensemble_golden.py member
        Writes the second ensemble member of tests/test_mc.c,
        tests/golden/model/unet_tiny_b.safetensors: unet_tiny's tensors perturbed
        (x * (1 + 0.3 n), running variances x * exp(0.3 n), n ~ N(0, 1), seed 16) and its
        dropout rate 0.25 instead of 0.5: same network, other weights and rate.
    DOUBT_ENSEMBLE_RAW_DIR=/tmp/raw build/tests/test_mc
        The C test writes there each member's raw network outputs, member_M.npy, float32
        [T, C+3, H, W]: sample t of a batch-1 network with dropout on, stream t.
    tools/ensemble_golden.py reference /tmp/raw
        Pools those samples and writes tests/golden/model/unet_tiny_ensemble_maps.npy,
        float32 [7 + C, H, W]: depth_mean, depth_epistemic, depth_aleatoric, seg_entropy,
        seg_aleatoric, seg_mutual_info, seg_logit_var, then seg_prob's C planes. It prints
        the law of total variance on these samples: the pooled variance against the mean
        within-member variance plus the variance of the member means.

Metric depth (the head's m and s are the depth and its log-variance); log-variances are
clamped at 80 before exp, as mc.c does.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edit_weights import read, write  # noqa: E402  (the safetensors reader and writer)

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden",
                      "model")
MAX_LOG_VAR = 80.0


def member():
    header, data = read(os.path.join(GOLDEN, "unet_tiny.safetensors"))
    rng = np.random.default_rng(16)
    for name in sorted(k for k in header if k != "__metadata__"):
        t = header[name]
        if t["dtype"] != "F32":
            sys.exit(f"{name} is {t['dtype']}, not F32")
        begin, end = t["data_offsets"]
        x = np.frombuffer(bytes(data[begin:end]), dtype="<f4").astype(np.float64)
        noise = rng.standard_normal(x.shape)
        x = x * np.exp(0.3 * noise) if name.endswith("running_var") else x * (1 + 0.3 * noise)
        data[begin:end] = x.astype("<f4").tobytes()
    net = json.loads(header["__metadata__"]["network"])
    net["dropout"] = 0.25
    header["__metadata__"]["network"] = json.dumps(net, separators=(",", ":"))
    write(os.path.join(GOLDEN, "unet_tiny_b.safetensors"), header, data)


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def entropy(p, axis):
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=axis)


def pooled_maps(members):
    """members: one [T, C+3, H, W] array per member; returns the [7 + C, H, W] maps."""
    x = np.concatenate(members).astype(np.float64)  # sample m*T + t
    c = x.shape[1] - 3
    mu = x[:, c + 1]
    p = softmax(x[:, :c])
    p_mean = p.mean(axis=0)
    seg_entropy = entropy(p_mean, axis=0)
    seg_aleatoric = entropy(p, axis=1).mean(axis=0)
    planes = [mu.mean(axis=0), mu.var(axis=0),
              np.exp(np.minimum(x[:, c + 2], MAX_LOG_VAR)).mean(axis=0),
              seg_entropy, seg_aleatoric, seg_entropy - seg_aleatoric,
              np.exp(np.minimum(x[:, c], MAX_LOG_VAR)).mean(axis=0)]
    return np.concatenate([np.stack(planes), p_mean])


def check_total_variance(members):
    mu = [m.astype(np.float64)[:, m.shape[1] - 2] for m in members]
    pooled = np.concatenate(mu).var(axis=0)
    within = np.mean([v.var(axis=0) for v in mu], axis=0)
    between = np.var([v.mean(axis=0) for v in mu], axis=0)
    gap = np.abs(pooled - (within + between)).max() / np.abs(pooled).max()
    print(f"depth epistemic: pooled variance {pooled.mean():.6g} (mean over pixels) = "
          f"within {within.mean():.6g} + between {between.mean():.6g}; "
          f"largest relative gap {gap:.2e}")
    if gap > 1e-9:
        sys.exit("the law of total variance does not hold: the members differ in T?")


def reference(raw):
    names = sorted(f for f in os.listdir(raw) if f.startswith("member_") and f.endswith(".npy"))
    if len(names) < 2:
        sys.exit(f"{raw}: want member_0.npy, member_1.npy, ... from tests/test_mc.c")
    members = [np.load(os.path.join(raw, n)) for n in names]
    check_total_variance(members)
    out = os.path.join(GOLDEN, "unet_tiny_ensemble_maps.npy")
    np.save(out, pooled_maps(members).astype("<f4"))
    print(f"{out}: {len(members)} members of {members[0].shape[0]} samples")


def main(args):
    if args == ["member"]:
        member()
    elif len(args) == 2 and args[0] == "reference":
        reference(args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
