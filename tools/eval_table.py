#!/usr/bin/python3
r"""Markdown tables of `doubt eval` reports, side by side (one column per report).

    tools/eval_table.py "validation (in distribution)=bench/eval_unet-small_val.json" \
        "out of distribution=bench/eval_unet-small_ood.json"

Prints the headline table and the per-class IoU table used in weights/README.md, so the
figures there are copied from the reports, not typed. Standard library only.
"""
import json
import sys

HEADLINE = [
    ("seg", "miou"), ("seg", "pixel_acc"), ("seg", "ece"), ("seg", "nll"),
    ("depth", "abs_rel"), ("depth", "rmse"), ("depth", "delta1"), ("depth", "nll"),
    ("uncertainty", "depth_epistemic_mean"), ("uncertainty", "depth_aleatoric_mean"),
    ("uncertainty", "seg_mutual_info_mean"), ("uncertainty", "seg_aleatoric_mean"),
    ("uncertainty", "ause_depth_rmse"), ("uncertainty", "aleatoric_noise_spearman"),
    ("uncertainty", "aleatoric_noise_ratio"), ("uncertainty", "aleatoric_noise_median_ratio"),
    ("uncertainty", "seg_logit_var_labelnoise_auroc"),
    ("uncertainty", "seg_aleatoric_labelnoise_auroc"),
]

# the reports hold IoUs by index; these are the names `doubt synth` gives the indices
SYNTH_CLASSES = ["background", "floor", "wall", "sphere", "box", "cylinder", "glass", "other"]


def figure(value):
    return "null" if value is None else f"{value:.4g}"


def main(args):
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    titles, reports = [], []
    for arg in args:
        title, path = arg.split("=", 1)
        with open(path) as f:
            reports.append(json.load(f))
        titles.append(title)

    print("| figure | " + " | ".join(titles) + " |")
    print("|---|" + "---|" * len(titles))
    for group, key in HEADLINE:
        cells = [figure((r[group] or {}).get(key)) for r in reports]
        print(f"| `{group}.{key}` | " + " | ".join(cells) + " |")

    print()
    print("| class | " + " | ".join(titles) + " |")
    print("|---|" + "---|" * len(titles))
    for c in range(reports[0]["classes"]):
        name = SYNTH_CLASSES[c] if c < len(SYNTH_CLASSES) else str(c)
        cells = [figure(r["seg"]["iou"][c]) for r in reports]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
