#!/usr/bin/python3
"""Golden values for tests/test_metrics.c: small random inputs and every metric of src/metrics
computed independently with NumPy/SciPy (direct formulas, no streaming, brute-force pair counts
for AUROC, scipy.stats.spearmanr), written to tests/golden/metrics/golden.json.

    /usr/bin/python3 tools/metrics_golden.py

Arrays are float32 (as the C code receives them) and stored as exact decimal doubles.
"""
import json
import math
import os

import numpy as np
from scipy import stats

rng = np.random.default_rng(20261123)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "metrics", "golden.json")


def f32list(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


# ---- segmentation: two images, C = 4, some ignored pixels ----------------------------------
C, H, W = 4, 5, 7
seg_images = []
for img in range(2):
    logits = rng.normal(0, 2.0, size=(C, H, W))
    p = np.exp(logits - logits.max(0))
    p = (p / p.sum(0)).astype(np.float32)
    label = rng.integers(0, C, size=(H, W)).astype(np.uint8)
    # agree with the argmax often enough for a useful confusion matrix
    agree = rng.random((H, W)) < 0.5
    label[agree] = p.argmax(0)[agree]
    label[rng.random((H, W)) < 0.15] = 255
    seg_images.append((label, p))
# class 3 never appears in ground truth nor prediction of image 1? leave it random; the test
# checks the present-class rule separately by hand.

lab = np.concatenate([l.ravel() for l, _ in seg_images])
prob = np.concatenate([p.reshape(C, -1) for _, p in seg_images], axis=1).astype(np.float64)
valid = lab != 255
y = lab[valid].astype(int)
P = prob[:, valid]
pred = P.argmax(0)
conf = P.max(0)
cm = np.zeros((C, C), dtype=np.int64)
for t, q in zip(y, pred):
    cm[t, q] += 1
iou = []
for c in range(C):
    union = cm[c].sum() + cm[:, c].sum() - cm[c, c]
    iou.append(cm[c, c] / union if union else None)
present = [v for v in iou if v is not None]
nll = float(np.mean(-np.log(np.maximum(P[y, np.arange(len(y))], 1e-12))))
onehot = np.zeros_like(P)
onehot[y, np.arange(len(y))] = 1.0
brier = float(np.mean(((P - onehot) ** 2).sum(0)))
bins = np.clip(np.floor(conf * 15).astype(int), 0, 14)
ece = 0.0
bin_conf, bin_acc, bin_count = [], [], []
for b in range(15):
    m = bins == b
    n_b = int(m.sum())
    bin_count.append(n_b)
    if n_b:
        acc_b = float(np.mean(pred[m] == y[m]))
        conf_b = float(np.mean(conf[m]))
        ece += n_b / len(y) * abs(acc_b - conf_b)
        bin_conf.append(conf_b)
        bin_acc.append(acc_b)
    else:
        bin_conf.append(None)
        bin_acc.append(None)
seg = {
    "classes": C, "height": H, "width": W,
    "images": [{"label": [int(v) for v in l.ravel()], "prob": f32list(p)} for l, p in seg_images],
    "pixels": int(valid.sum()),
    "confusion": [int(v) for v in cm.ravel()],
    "pixel_acc": float(np.trace(cm) / cm.sum()),
    "iou": iou, "miou": float(np.mean(present)),
    "nll": nll, "brier": brier, "ece": ece,
    "bin_conf": bin_conf, "bin_acc": bin_acc, "bin_count": bin_count,
}

# ---- depth: two images with invalid pixels and a variance ----------------------------------
DH, DW = 6, 5
depth_images = []
for img in range(2):
    gt = rng.uniform(0.5, 20.0, size=(DH, DW)).astype(np.float32)
    gt[rng.random((DH, DW)) < 0.2] = 0.0
    sigma = rng.uniform(0.05, 1.5, size=(DH, DW))
    pred = (gt + sigma * rng.normal(size=(DH, DW)) * 1.3).astype(np.float32)
    pred.ravel()[3] = -0.5  # exercises the 1e-3 clamp of logs and ratios
    var = (sigma ** 2).astype(np.float32)
    depth_images.append((pred, gt, var))
mu = np.concatenate([d[0].ravel() for d in depth_images]).astype(np.float64)
gt = np.concatenate([d[1].ravel() for d in depth_images]).astype(np.float64)
var = np.concatenate([d[2].ravel() for d in depth_images]).astype(np.float64)
v = gt > 0
mu, gt, var = mu[v], gt[v], var[v]
muc = np.maximum(mu, 1e-3)
ratio = np.maximum(muc / gt, gt / muc)
depth = {
    "height": DH, "width": DW,
    "images": [{"pred": f32list(a), "gt": f32list(b), "var": f32list(c)} for a, b, c in depth_images],
    "pixels": int(v.sum()),
    "abs_rel": float(np.mean(np.abs(mu - gt) / gt)),
    "sq_rel": float(np.mean((mu - gt) ** 2 / gt)),
    "rmse": float(np.sqrt(np.mean((mu - gt) ** 2))),
    "rmse_log": float(np.sqrt(np.mean((np.log(muc) - np.log(gt)) ** 2))),
    "log10": float(np.mean(np.abs(np.log10(muc) - np.log10(gt)))),
    "delta": [float(np.mean(ratio < 1.25 ** k)) for k in (1, 2, 3)],
    "nll": float(np.mean(0.5 * np.log(2 * np.pi * var) + (gt - mu) ** 2 / (2 * var))),
    "within": [float(np.mean(np.abs(gt - mu) <= z * np.sqrt(var))) for z in (1, 2, 3)],
}


# ---- sparsification ---------------------------------------------------------------------------
def sparsification(u, e, rmse):
    n = len(u)
    idx = np.arange(n)
    order_model = np.lexsort((idx, -u))          # uncertainty descending, index ascending
    order_oracle = np.lexsort((idx, -np.abs(e) if rmse else -e))
    curves = []
    for order in (order_model, order_oracle):
        c = []
        for k in range(50):
            rest = e[order[(k * n) // 50:]].astype(np.float64)
            c.append(math.sqrt(np.mean(rest ** 2)) if rmse else float(np.mean(rest)))
        c = np.array(c)
        curves.append(c / c[0])
    frac = np.arange(50) / 50
    d = curves[0] - curves[1]
    ause = float(np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(frac)))
    return curves, ause


n = 37
u_sp = rng.gamma(2.0, 0.5, n).astype(np.float32)
u_sp[5] = u_sp[9]  # a tie
e_sp = (np.abs(rng.normal(size=n)) * (0.3 + u_sp)).astype(np.float32)
(cm_r, co_r), ause_r = sparsification(u_sp.astype(np.float64), e_sp.astype(np.float64), True)
wrong = (rng.random(n) < 0.35).astype(np.float32)
(cm_m, co_m), ause_m = sparsification(u_sp.astype(np.float64), wrong.astype(np.float64), False)
sparse = {
    "u": f32list(u_sp), "e": f32list(e_sp), "wrong": f32list(wrong),
    "rmse_model": list(map(float, cm_r)), "rmse_oracle": list(map(float, co_r)), "rmse_ause": ause_r,
    "rmse_full": math.sqrt(float(np.mean(e_sp.astype(np.float64) ** 2))),
    "mean_model": list(map(float, cm_m)), "mean_oracle": list(map(float, co_m)), "mean_ause": ause_m,
}

# ---- AUROC with ties, by counting pairs -----------------------------------------------------
m = 41
score = (np.round(rng.uniform(0, 1, m) * 8) / 8).astype(np.float32)  # many ties
pos = (rng.random(m) < 0.4).astype(np.uint8)
sp_, sn_ = score[pos == 1], score[pos == 0]
pairs = sum((a > b) + 0.5 * (a == b) for a in sp_ for b in sn_)
auroc = {"score": f32list(score), "positive": [int(x) for x in pos],
         "auroc": float(pairs / (len(sp_) * len(sn_)))}

# ---- Spearman with ties, and the mean ratio ------------------------------------------------
k = 29
a = np.round(rng.uniform(0, 3, k), 1).astype(np.float32)
b = (a + rng.normal(0, 0.8, k)).astype(np.float32)
b[3] = b[7]
spear = {"a": f32list(a), "b": f32list(b),
         "rho": float(stats.spearmanr(a.astype(np.float64), b.astype(np.float64)).correlation),
         "ratio": float(np.mean(a.astype(np.float64)) / np.mean(b.astype(np.float64)))}

# ---- PAvPU on a 9 x 10 image (edge patches smaller) with ignored pixels ---------------------
PH, PW = 9, 10
correct = (rng.random((PH, PW)) < 0.6).astype(np.uint8)
pvalid = (rng.random((PH, PW)) < 0.85).astype(np.uint8)
pvalid[0:4, 4:8] = 0  # one patch with no valid pixel: skipped
unc = rng.uniform(0, 1, (PH, PW)).astype(np.float32)
unc64 = unc.astype(np.float64)


def pavpu(thr):
    counts = {"ac": 0, "au": 0, "ic": 0, "iu": 0}
    for by in range(0, PH, 4):
        for bx in range(0, PW, 4):
            vv = pvalid[by:by + 4, bx:bx + 4] == 1
            if not vv.any():
                continue
            acc = correct[by:by + 4, bx:bx + 4][vv].mean() >= 0.5
            cert = unc64[by:by + 4, bx:bx + 4][vv].mean() < thr
            counts[("a" if acc else "i") + ("c" if cert else "u")] += 1
    tot = sum(counts.values())
    return counts, (counts["ac"] + counts["iu"]) / tot


mean_thr = float(unc64[pvalid == 1].mean())
c_fixed, p_fixed = pavpu(0.4)
c_mean, p_mean = pavpu(mean_thr)
pav = {"height": PH, "width": PW, "correct": [int(x) for x in correct.ravel()],
       "valid": [int(x) for x in pvalid.ravel()], "unc": f32list(unc),
       "fixed": {"threshold": 0.4, "counts": c_fixed, "pavpu": p_fixed},
       "mean": {"threshold": mean_thr, "counts": c_mean, "pavpu": p_mean}}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"seg": seg, "depth": depth, "sparse": sparse, "auroc": auroc, "spearman": spear,
               "pavpu": pav}, f, indent=1)
print("wrote", os.path.normpath(OUT))
