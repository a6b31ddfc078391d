#!/usr/bin/python3
"""Golden values for tests/test_losses.c, from an independent implementation.

Writes tests/golden/losses/*.txt. Inputs are drawn here (NumPy, fixed seeds) and stored with
the expected loss and gradients; the expected values come from PyTorch autograd in float64.
For the attenuated loss the noise is the project's Philox4x32-10 + Box-Muller, re-implemented
here from src/core/rng.c (checked against the Random123 known-answer vectors) and drawn at
the index documented in src/losses/losses.h.

File format (text, whitespace separated; '#' starts a comment line):
    param NAME VALUE            an integer
    array NAME COUNT v1 ... vN  values; inputs as float32 (%.9g, exact), results as %.17g

Run from anywhere: /usr/bin/python3 tools/losses_golden.py
"""
import math
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "losses")
IGNORE = 255
RNG_LAYER = 0x4154544E  # DOUBT_LOSSES_RNG_LAYER

# ---------------------------------------------------------------- Philox4x32-10 + Box-Muller
MASK32 = np.uint64(0xFFFFFFFF)
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)


def philox4x32_10(ctr, key0, key1):
    """ctr: four uint32 arrays (same shape); returns four uint32 arrays."""
    c0, c1, c2, c3 = (np.asarray(x, dtype=np.uint64) for x in ctr)
    k0, k1 = np.uint64(key0), np.uint64(key1)
    for _ in range(10):
        p0 = M0 * c0  # < 2^64: exact in uint64
        p1 = M1 * c2
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK32, \
            (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK32
        k0 = (k0 + W0) & MASK32
        k1 = (k1 + W1) & MASK32
    return [x.astype(np.uint32) for x in (c0, c1, c2, c3)]


def check_philox():
    kat = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
           ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
           ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
            (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]
    for ctr, key, want in kat:
        got = philox4x32_10([np.array([v], dtype=np.uint32) for v in ctr], *key)
        got = tuple(int(g[0]) for g in got)
        assert got == want, "Philox known answer: %s != %s" % (got, want)


def rng_normal(seed, stream, layer, index):
    """doubt_rng_normal(key, index) for an array of indices, as float32."""
    index = np.asarray(index, dtype=np.uint64)
    block = index >> np.uint64(2)
    ctr = [block & MASK32,
           np.full(block.shape, layer, dtype=np.uint64),
           np.full(block.shape, stream & 0xFFFFFFFF, dtype=np.uint64),
           np.uint64(stream >> 32) ^ (block >> np.uint64(32))]
    words = philox4x32_10(ctr, seed & 0xFFFFFFFF, seed >> 32)
    out = np.empty(index.shape, dtype=np.float32)
    for pos, (i, b) in enumerate(zip(index.ravel(), zip(*(w.ravel() for w in words)))):
        lane = int(i) & 3
        a, c = (b[0], b[1]) if lane < 2 else (b[2], b[3])
        # Box-Muller exactly as rng.c: doubles through the C library's log/sqrt/cos/sin
        # (Python's math module calls the same libm), then one rounding to float.
        u1 = ((int(a) >> 8) + 1.0) * (1.0 / 16777216.0)
        u2 = (int(c) >> 8) * (1.0 / 16777216.0)
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 6.283185307179586 * u2
        z = r * math.cos(theta) if lane % 2 == 0 else r * math.sin(theta)
        out.flat[pos] = np.float32(z)
    return out


# ---------------------------------------------------------------- output
class Golden:
    def __init__(self, name, comment):
        self.path = os.path.join(OUT, name)
        self.lines = ["# " + line for line in comment.strip().splitlines()]
        self.lines.append("# written by tools/losses_golden.py; do not edit")

    def param(self, name, value):
        self.lines.append("param %s %d" % (name, int(value)))

    def inp(self, name, arr):
        vals = np.asarray(arr, dtype=np.float32).ravel()
        self._array(name, ["%.9g" % v for v in vals])

    def out(self, name, arr):
        if isinstance(arr, torch.Tensor):
            arr = arr.detach().numpy()
        vals = np.asarray(arr, dtype=np.float64).ravel()
        self._array(name, ["%.17g" % v for v in vals])

    def _array(self, name, vals):
        self.lines.append("array %s %d" % (name, len(vals)))
        for i in range(0, len(vals), 8):
            self.lines.append(" ".join(vals[i:i + 8]))

    def write(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        return os.path.getsize(self.path)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------- regression
def regression(gen):
    count = 150
    target = gen.uniform(0.5, 80.0, count).astype(np.float32)
    target[gen.random(count) < 0.2] = 0  # invalid depth
    pred = (target + gen.normal(0, 3.0, count)).astype(np.float32)
    # keep |r| away from 0 so the L1/Laplace kink is never hit
    r = pred - target
    pred[np.abs(r) < 1e-2] += np.float32(0.05)
    log_var = gen.uniform(-4, 4, count).astype(np.float32)
    mask = (gen.random(count) < 0.7).astype(np.float32)
    g = Golden("regression.txt", """
Regression losses over 150 elements. mask NULL: valid where target != 0;
the *_mask cases pass `mask` (valid where mask != 0). r = pred - target.""")
    g.param("count", count)
    g.inp("pred", pred)
    g.inp("log_var", log_var)
    g.inp("target", target)
    g.inp("mask", mask)
    for kind in ("l1", "l2", "gaussian", "laplace"):
        for masked in (False, True):
            p, s, y = t64(pred, True), t64(log_var, True), t64(target)
            valid = t64(mask) != 0 if masked else y != 0
            r = p - y
            if kind == "l1":
                per = r.abs()
            elif kind == "l2":
                per = r * r
            elif kind == "gaussian":
                per = 0.5 * torch.exp(-s) * r * r + 0.5 * s
            else:
                per = torch.exp(-s) * r.abs() + s
            loss = per[valid].sum() / valid.sum()
            loss.backward()
            name = kind + ("_mask" if masked else "")
            g.out(name + ".loss", [loss.item()])
            g.out(name + ".grad_pred", p.grad)
            if kind in ("gaussian", "laplace"):
                g.out(name + ".grad_log_var", s.grad)
    return g.write()


# ---------------------------------------------------------------- cross-entropy
def labels_for(gen, n, c, h, w, ignore_frac):
    labels = gen.integers(0, c, (n, h, w)).astype(np.uint8)
    labels[gen.random((n, h, w)) < ignore_frac] = IGNORE
    return labels


def cross_entropy(gen):
    n, c, h, w = 2, 5, 4, 6
    logits = gen.normal(0, 3, (n, c, h, w)).astype(np.float32)
    labels = labels_for(gen, n, c, h, w, 0.2)
    weight = gen.uniform(0.2, 3.0, c).astype(np.float32)
    g = Golden("cross_entropy.txt", """
Softmax cross-entropy, logits [N,C,H,W], labels [N,H,W] (255 = ignore), optional class
weights; reference torch.nn.functional.cross_entropy(ignore_index=255, reduction='mean').""")
    for k, v in zip("nchw", (n, c, h, w)):
        g.param(k, v)
    g.inp("logits", logits)
    g.inp("labels", labels)
    g.inp("weight", weight)
    for name, wt in (("plain", None), ("weighted", t64(weight))):
        f = t64(logits, True)
        loss = torch.nn.functional.cross_entropy(f, torch.tensor(labels.astype(np.int64)),
                                                 weight=wt, ignore_index=IGNORE)
        loss.backward()
        g.out(name + ".loss", [loss.item()])
        g.out(name + ".grad_logits", f.grad)
    return g.write()


# ---------------------------------------------------------------- attenuated classification
def attenuated(gen, fname, n, c, h, w, samples, seed, stream, s_lo, s_hi):
    logits = gen.normal(0, 2, (n, c, h, w)).astype(np.float32)
    log_var = gen.uniform(s_lo, s_hi, (n, 1, h, w)).astype(np.float32)
    labels = labels_for(gen, n, c, h, w, 0.15)
    # the index of an [N, T, C, H, W] tensor (losses.h)
    eps = rng_normal(seed, stream, RNG_LAYER,
                     np.arange(n * samples * c * h * w, dtype=np.uint64)).reshape(n, samples, c, h, w)
    f, s = t64(logits, True), t64(log_var, True)
    xhat = f[:, None] + torch.exp(s / 2)[:, None] * t64(eps)          # [N,T,C,H,W]
    logp = torch.log_softmax(xhat, dim=2)
    idx = torch.tensor(np.where(labels == IGNORE, 0, labels).astype(np.int64))
    idx = idx[:, None, None].expand(n, samples, 1, h, w)
    lp = logp.gather(2, idx)[:, :, 0]                                   # [N,T,H,W]
    per = math.log(samples) - torch.logsumexp(lp, dim=1)               # [N,H,W]
    valid = torch.tensor(labels != IGNORE)
    loss = per[valid].sum() / valid.sum()
    loss.backward()
    g = Golden(fname, """
Attenuated classification (Kendall & Gal 2017 eq. 12), T samples x = f + exp(s/2)*eps,
eps = doubt_rng_normal({seed, stream, layer}, (((n*T + t)*C + c)*H + h)*W + w).
eps_check: the first 64 draws of that key, to tell an RNG mismatch from a loss mismatch.""")
    for k, v in zip(("n", "c", "h", "w", "samples", "seed", "stream", "layer"),
                    (n, c, h, w, samples, seed, stream, RNG_LAYER)):
        g.param(k, v)
    g.inp("logits", logits)
    g.inp("log_var", log_var)
    g.inp("labels", labels)
    g.inp("eps_check", eps.ravel()[:64])
    g.out("loss", [loss.item()])
    g.out("grad_logits", f.grad)
    g.out("grad_log_var", s.grad)
    return g.write()


# ---------------------------------------------------------------- multitask
def multitask(gen):
    kinds = np.array([0, 1, 0, 1], dtype=np.float32)  # 0 regression, 1 classification
    task_loss = gen.uniform(0.05, 5.0, 4).astype(np.float32)
    log_var = gen.uniform(-3, 3, 4).astype(np.float32)
    weight = gen.uniform(0.1, 2.0, 4).astype(np.float32)
    L, s = t64(task_loss, True), t64(log_var, True)
    a = torch.where(t64(kinds) == 0, 0.5 * torch.exp(-s), torch.exp(-s))
    total = (a * L + 0.5 * s).sum()
    total.backward()
    g = Golden("multitask.txt", """
Multitask weighting (Kendall, Gal & Cipolla 2018). kinds: 0 regression (1/2 exp(-s) L + s/2),
1 classification (exp(-s) L + s/2); fixed mode: sum weight*L.""")
    g.inp("kinds", kinds)
    g.inp("task_loss", task_loss)
    g.inp("log_var", log_var)
    g.inp("weight", weight)
    g.out("total", [total.item()])
    g.out("scale", L.grad)
    g.out("grad_log_var", s.grad)
    L2 = t64(task_loss, True)
    fixed = (t64(weight) * L2).sum()
    fixed.backward()
    g.out("fixed.total", [fixed.item()])
    g.out("fixed.scale", L2.grad)
    return g.write()


def main():
    check_philox()
    os.makedirs(OUT, exist_ok=True)
    gen = np.random.default_rng(20261123)
    sizes = [regression(gen), cross_entropy(gen),
             attenuated(gen, "attenuated.txt", 2, 4, 2, 67, 6, 0x123456789ABCDEF, 17, -3, 3),
             attenuated(gen, "attenuated_t1.txt", 1, 3, 3, 5, 1, 7, (1 << 32) + 5, -1, 2),
             multitask(gen)]
    print("wrote %d files, %d bytes, to %s" % (len(sizes), sum(sizes), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
