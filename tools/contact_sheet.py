#!/usr/bin/python3
"""Contact sheet of a `doubt synth` dataset: one row per image with the RGB image, the
labels in the dataset's palette, the depth (turbo, fixed range) and the true depth-noise
sigma (inferno, fixed range). Invalid depth and sigma are drawn mid grey.

    /usr/bin/python3 tools/contact_sheet.py OUTDIR sheet.png [--rows 4] [--first 0] [--zoom 2]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=4)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--depth-max", type=float, default=20.0, help="metres at the top of turbo")
    ap.add_argument("--sigma-max", type=float, default=0.5, help="metres at the top of inferno")
    a = ap.parse_args()

    meta = json.load(open(os.path.join(a.dataset, "dataset.json")))
    palette = np.array(meta["palette"], dtype=np.uint8)
    scale = meta["depth_scale"]
    names = sorted(n[:-4] for n in os.listdir(os.path.join(a.dataset, "images")))
    names = names[a.first:a.first + a.rows]
    rows = []
    for name in names:
        img = np.asarray(Image.open(os.path.join(a.dataset, "images", name + ".png")).convert("RGB"))
        lab = np.asarray(Image.open(os.path.join(a.dataset, "labels", name + ".png")))
        dep = np.asarray(Image.open(os.path.join(a.dataset, "depth", name + ".png"))).astype(np.float64) / scale
        sig = np.load(os.path.join(a.dataset, "noise", name + ".npy"))
        gap = np.full((img.shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([
            img, gap, palette[lab], gap,
            colorize(dep, dep > 0, 0, a.depth_max, "turbo"), gap,
            colorize(sig, dep > 0, 0, a.sigma_max, "inferno")], axis=1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    sheet = np.concatenate(rows[:-1], axis=0)
    sheet = sheet.repeat(a.zoom, axis=0).repeat(a.zoom, axis=1)
    Image.fromarray(sheet).save(a.out, optimize=True)


if __name__ == "__main__":
    main()
