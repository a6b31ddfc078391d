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
def reg_parts(kind, r, s):
    """Per-pixel data term d >= 0 and log term rho of a regression loss (losses.h's table)."""
    if kind == "l1":
        return r.abs(), torch.zeros_like(r)
    if kind == "l2":
        return r * r, torch.zeros_like(r)
    if kind == "gaussian":
        return 0.5 * torch.exp(-s) * r * r, 0.5 * s
    return torch.exp(-s) * r.abs(), s  # laplace, s = log b


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
    # a task precision such as exp(-s_k) at s_k = -1.7 (a constant: no draw, so the later
    # files keep their inputs)
    data_weight = np.float32(math.exp(1.7))
    g = Golden("regression.txt", """
Regression losses over 150 elements. mask NULL: valid where target != 0;
the *_mask cases pass `mask` (valid where mask != 0). r = pred - target.
Each loss is a data term d >= 0 plus a log term rho: l1 |r|, 0; l2 r^2, 0;
gaussian 1/2 exp(-s) r^2, s/2; laplace exp(-s) |r|, s. NAME.data = mean d, NAME.log_term
= mean rho, NAME.loss = data_weight * mean d + mean rho with its gradients; data_weight 1,
or the `data_weight` array for the *_w cases.""")
    g.param("count", count)
    g.inp("pred", pred)
    g.inp("log_var", log_var)
    g.inp("target", target)
    g.inp("mask", mask)
    g.inp("data_weight", [data_weight])
    for kind in ("l1", "l2", "gaussian", "laplace"):
        for masked in (False, True):
            for weighted in (False, True):
                p, s, y = t64(pred, True), t64(log_var, True), t64(target)
                valid = t64(mask) != 0 if masked else y != 0
                a = float(data_weight) if weighted else 1.0
                d, rho = reg_parts(kind, p - y, s)
                data = d[valid].sum() / valid.sum()
                log_term = rho[valid].sum() / valid.sum()
                loss = a * data + log_term
                loss.backward()
                name = kind + ("_mask" if masked else "") + ("_w" if weighted else "")
                g.out(name + ".loss", [loss.item()])
                g.out(name + ".data", [data.item()])
                g.out(name + ".log_term", [log_term.item()])
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
# doubt_task_kind, in its enum order
TASK_KINDS = ("regression", "classification", "hetero_gaussian", "hetero_laplace")


def task_weight(kind, s):
    """w_k(s_k): the task precision that multiplies the data term (losses.h)."""
    return {"regression": 0.5 * torch.exp(-s), "classification": torch.exp(-s),
            "hetero_gaussian": torch.exp(-s), "hetero_laplace": torch.exp(-s / 2)}[kind]


def multitask(gen):
    kinds = np.array([0, 1, 2, 3, 2, 3], dtype=np.float32)  # index into TASK_KINDS
    tasks = len(kinds)
    data = gen.uniform(0.05, 5.0, tasks).astype(np.float32)
    # a heteroscedastic task's log term has either sign; tasks 4 and 5 have a negative NLL
    log_term = gen.uniform(-3, 3, tasks).astype(np.float32)
    log_term[kinds < 2] = 0
    log_term[4] = np.float32(-data[4] - 1.5)
    log_term[5] = np.float32(-data[5] - 0.7)
    log_var = gen.uniform(-3, 3, tasks).astype(np.float32)
    weight = gen.uniform(0.1, 2.0, tasks).astype(np.float32)
    task_loss = (data + log_term).astype(np.float32)  # each task's whole loss, for fixed
    assert task_loss[4] < 0 and task_loss[5] < 0
    D, R, s = t64(data, True), t64(log_term, True), t64(log_var, True)
    total = sum(task_weight(TASK_KINDS[int(kinds[k])], s[k]) * D[k] + R[k] + 0.5 * s[k]
                for k in range(tasks))
    total.backward()
    g = Golden("multitask.txt", """
Multitask weighting (Kendall, Gal & Cipolla 2018) on the data terms only:
total = sum_k w_k(s_k) data_k + log_term_k + s_k/2, kinds (doubt_task_kind order)
0 regression w = 1/2 exp(-s), 1 classification exp(-s), 2 hetero_gaussian exp(-s),
3 hetero_laplace exp(-s/2); scale = d total/d data, grad_log_var = d total/d s.
Tasks 4 and 5 have a negative NLL data + log_term. Fixed mode on each task's whole
loss task_loss = data + log_term: sum weight*task_loss.""")
    g.inp("kinds", kinds)
    g.inp("data", data)
    g.inp("log_term", log_term)
    g.inp("log_var", log_var)
    g.inp("weight", weight)
    g.inp("task_loss", task_loss)
    g.out("total", [total.item()])
    g.out("scale", D.grad)
    g.out("grad_log_var", s.grad)
    L2 = t64(task_loss, True)
    fixed = (t64(weight) * L2).sum()
    fixed.backward()
    g.out("fixed.total", [fixed.item()])
    g.out("fixed.scale", L2.grad)
    return g.write()


def objective(gen):
    """The whole learned objective of a segmentation + depth step, written out as the
    likelihood it is (not as data/log parts), with near-exact depth so the depth NLL is
    negative: Gaussian 1/2 exp(-s_d) mean(exp(-s) r^2) + 1/2 mean(s) + s_d/2 (variance
    sigma_d^2 sigma^2), Laplace exp(-s_d/2) mean(exp(-s)|r|) + mean(s) + s_d/2 (scale
    exp(s_d/2) b), plus exp(-s_seg) L_seg + s_seg/2."""
    count = 96
    target = gen.uniform(1.0, 40.0, count).astype(np.float32)
    target[gen.random(count) < 0.15] = 0  # invalid depth
    pred = (target + gen.normal(0, 0.05, count)).astype(np.float32)
    r = pred - target
    pred[np.abs(r) < 1e-3] += np.float32(0.01)  # away from the Laplace kink
    # near each pixel's best s (log r^2, log |r|) and away from it by up to e^{+-1} in variance
    u = gen.uniform(-1, 1, count)
    r = (pred - target).astype(np.float64)
    log_vars = {"gaussian": (np.log(r * r) + u).astype(np.float32),
                "laplace": (np.log(np.abs(r)) + u / 2).astype(np.float32)}
    seg = np.float32(gen.uniform(0.2, 2.0))
    task_log_var = gen.uniform(-2, 2, 2).astype(np.float32)  # segmentation, depth
    g = Golden("objective.txt", """
Learned multitask objective, segmentation (a given loss L_seg) + depth (valid where
target != 0, r = pred - target, s = KIND.log_var), task log-variances task_log_var = [s_seg, s_d]:
gaussian: exp(-s_seg) L_seg + s_seg/2 + 1/2 exp(-s_d) mean(exp(-s) r^2) + 1/2 mean(s) + s_d/2
laplace:  exp(-s_seg) L_seg + s_seg/2 + exp(-s_d/2) mean(exp(-s) |r|) + mean(s) + s_d/2
KIND.nll is the depth task's unweighted NLL (without the 2 pi / 2 constants), negative here.
Gradients: to pred, KIND.log_var, task_log_var and L_seg (= the segmentation scale).""")
    g.param("count", count)
    g.inp("pred", pred)
    g.inp("gaussian.log_var", log_vars["gaussian"])
    g.inp("laplace.log_var", log_vars["laplace"])
    g.inp("target", target)
    g.inp("seg", [seg])
    g.inp("task_log_var", task_log_var)
    for kind in ("gaussian", "laplace"):
        p, s, y = t64(pred, True), t64(log_vars[kind], True), t64(target)
        sk, L = t64(task_log_var, True), t64([seg], True)
        valid = y != 0
        r = (p - y)[valid]
        sv = s[valid]
        if kind == "gaussian":
            nll = (0.5 * torch.exp(-sv) * r * r + 0.5 * sv).mean()
            depth = 0.5 * torch.exp(-sk[1]) * (torch.exp(-sv) * r * r).mean() + 0.5 * sv.mean()
        else:
            nll = (torch.exp(-sv) * r.abs() + sv).mean()
            depth = torch.exp(-sk[1] / 2) * (torch.exp(-sv) * r.abs()).mean() + sv.mean()
        assert nll.item() < 0, nll.item()
        total = torch.exp(-sk[0]) * L[0] + 0.5 * sk[0] + depth + 0.5 * sk[1]
        total.backward()
        g.out(kind + ".nll", [nll.item()])
        g.out(kind + ".total", [total.item()])
        g.out(kind + ".grad_pred", p.grad)
        g.out(kind + ".grad_log_var", s.grad)
        g.out(kind + ".grad_task_log_var", sk.grad)
        g.out(kind + ".grad_seg", L.grad)
    return g.write()


def main():
    check_philox()
    os.makedirs(OUT, exist_ok=True)
    gen = np.random.default_rng(20261123)
    sizes = [regression(gen), cross_entropy(gen),
             attenuated(gen, "attenuated.txt", 2, 4, 2, 67, 6, 0x123456789ABCDEF, 17, -3, 3),
             attenuated(gen, "attenuated_t1.txt", 1, 3, 3, 5, 1, 7, (1 << 32) + 5, -1, 2),
             multitask(gen), objective(gen)]
    print("wrote %d files, %d bytes, to %s" % (len(sizes), sum(sizes), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
