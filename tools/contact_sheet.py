#!/usr/bin/python3
"""Contact sheet of `doubt synth` datasets: one row per image with the RGB image, the
labels in the dataset's palette, the true label-noise probability (gray, 0 black to 1 white,
when the dataset has labelnoise/), the depth (turbo, fixed range) and the true depth-noise
sigma (inferno, fixed range). Invalid depth and sigma are drawn mid grey. Each dataset given
contributes --rows rows (e.g. a training set and an --ood set).

    /usr/bin/python3 tools/contact_sheet.py -o sheet.png DATASET [DATASET ...] [--rows 4] [--zoom 2]
"""
import argparse
import json
import os

import numpy as np
from matplotlib import colormaps
from PIL import Image


def colorize(values, valid, lo, hi, cmap):
    t = np.clip((values - lo) / (hi - lo), 0, 1)
    rgb = (colormaps[cmap](t)[..., :3] * 255).astype(np.uint8)
    rgb[~valid] = 128
    return rgb


def dataset_rows(dataset, a):
    rows = []
    meta = json.load(open(os.path.join(dataset, "dataset.json")))
    palette = np.array(meta["palette"], dtype=np.uint8)
    scale = meta["depth_scale"]
    names = sorted(n[:-4] for n in os.listdir(os.path.join(dataset, "images")))
    names = names[a.first:a.first + a.rows]
    for name in names:
        img = np.asarray(Image.open(os.path.join(dataset, "images", name + ".png")).convert("RGB"))
        lab = np.asarray(Image.open(os.path.join(dataset, "labels", name + ".png")))
        dep = np.asarray(Image.open(os.path.join(dataset, "depth", name + ".png"))).astype(np.float64) / scale
        sig = np.load(os.path.join(dataset, "noise", name + ".npy"))
        gap = np.full((img.shape[0], 4, 3), 255, np.uint8)
        noise_path = os.path.join(dataset, "labelnoise", name + ".png")
        flips = []
        if os.path.exists(noise_path):
            p = np.asarray(Image.open(noise_path))
            flips = [np.repeat(p[..., None], 3, axis=2), gap]
        rows.append(np.concatenate([
            img, gap, palette[lab], gap, *flips,
            colorize(dep, dep > 0, 0, a.depth_max, "turbo"), gap,
            colorize(sig, dep > 0, 0, a.sigma_max, "inferno")], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--depth-max", type=float, default=20.0, help="metres at the top of turbo")
    ap.add_argument("--sigma-max", type=float, default=0.5, help="metres at the top of inferno")
    a = ap.parse_args()

    rows = []
    for dataset in a.datasets:
        rows += dataset_rows(dataset, a)
    sheet = np.concatenate(rows[:-1], axis=0)
    sheet = sheet.repeat(a.zoom, axis=0).repeat(a.zoom, axis=1)
    Image.fromarray(sheet).save(a.out, optimize=True)


if __name__ == "__main__":
    main()
