"""Moment propagation against Monte Carlo dropout, pixel by pixel (issue 17, part 4).

    propagate_compare.py PROPAGATE_DIR REFERENCE_DIR [--json OUT]

Both folders hold `doubt predict --npy` outputs of the same images (NAME.depth_epistemic.npy,
NAME.seg_mutual_info.npy, ...). For the depth epistemic variance and the mutual information
it prints Spearman's rank correlation between the two maps over the valid pixels (finite in
both: the depth maps are NaN on no-depth classes), pooled over every image and as the median
of the per-image values. Spearman is Pearson's correlation of average ranks (ties share
their mean rank), computed here with NumPy.
"""
import argparse
import glob
import json
import os

import numpy as np


def average_ranks(x):
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    sorted_x = x[order]
    # tied runs get the mean of their positions
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    means = (starts + ends - 1) / 2.0
    ranks[order] = np.repeat(means, ends - starts)
    return ranks


def spearman(a, b):
    ra, rb = average_ranks(a), average_ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def compare(prop_dir, ref_dir, name):
    pooled_a, pooled_b, per_image = [], [], []
    for path in sorted(glob.glob(os.path.join(prop_dir, f"*.{name}.npy"))):
        ref = os.path.join(ref_dir, os.path.basename(path))
        a, b = np.load(path).ravel(), np.load(ref).ravel()
        keep = np.isfinite(a) & np.isfinite(b)
        a, b = a[keep].astype(np.float64), b[keep].astype(np.float64)
        pooled_a.append(a)
        pooled_b.append(b)
        per_image.append(spearman(a, b))
    a, b = np.concatenate(pooled_a), np.concatenate(pooled_b)
    return {"images": len(per_image), "pixels": int(len(a)), "spearman_pooled": spearman(a, b),
            "spearman_median_image": float(np.median(per_image)),
            "mean_propagate": float(a.mean()), "mean_reference": float(b.mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("propagate")
    ap.add_argument("reference")
    ap.add_argument("--json")
    args = ap.parse_args()
    out = {m: compare(args.propagate, args.reference, m)
           for m in ("depth_epistemic", "seg_mutual_info")}
    for m, r in out.items():
        print(f"{m}: Spearman pooled {r['spearman_pooled']:.3f}, median image "
              f"{r['spearman_median_image']:.3f} over {r['pixels']} pixels of {r['images']} "
              f"images; mean {r['mean_propagate']:.4g} (propagate) vs {r['mean_reference']:.4g}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
