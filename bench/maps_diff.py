#!/usr/bin/python3
"""Largest differences between two folders of `doubt predict --npy` maps, map by map.

    bench/maps_diff.py A B

For each map kind (depth_epistemic, seg_mutual_info, ...) over every image: the largest
absolute difference, and the largest relative one |a - b| / max(|a|, 1e-3) (the floor keeps
near-zero values from dominating). Both folders must hold the same files and agree on which
pixels are undefined (NaN). Needs NumPy (Debian's python3-numpy).
"""
import glob
import os
import sys

import numpy as np


def main(a, b):
    worst = {}
    files = sorted(glob.glob(os.path.join(a, '*.npy')))
    if not files:
        sys.exit(f'{a}: no .npy maps')
    for path in files:
        x = np.load(path).astype(np.float64)
        y = np.load(os.path.join(b, os.path.basename(path))).astype(np.float64)
        if x.shape != y.shape or not (np.isfinite(x) == np.isfinite(y)).all():
            sys.exit(f'{path}: shapes or undefined pixels differ')
        ok = np.isfinite(x)
        d = np.abs(x[ok] - y[ok])
        rel = d / np.maximum(np.abs(x[ok]), 1e-3)
        kind = os.path.basename(path).split('.')[1]
        w = worst.get(kind, (0.0, 0.0))
        worst[kind] = (max(w[0], d.max(initial=0)), max(w[1], rel.max(initial=0)))
    print(f'{len(files)} maps')
    for kind, (d, r) in sorted(worst.items()):
        print(f'{kind:18s} max abs {d:.3g}  max rel {r:.3g}')


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
