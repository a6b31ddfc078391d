#!/usr/bin/python3
r"""The comparison table of bench/methods.sh from its `doubt eval` reports.

    tools/methods_table.py WORKDIR

reads WORKDIR/eval_{mc,concrete,ensemble,single}_{id,objects,geometry}.json and
WORKDIR/seconds_METHOD.txt (seconds per in-distribution image, written by the script) and
prints one markdown row per method: in-distribution mIoU, abs-rel, segmentation NLL and ECE,
depth NLL (total variance), AUSE of depth (RMSE ranked by total variance) and of
segmentation (error ranked by predictive entropy), the share of depth errors within 1σ of
the total variance (ideal 0.683), then per OOD kind the AUROC with which the image-level
mean mutual information and mean depth epistemic variance tell the OOD images from the
in-distribution ones (0.5: chance; a method whose epistemic maps are 0 scores 0.5), and the
seconds per image. Missing reports give "–". Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kendall_gal_table import auroc, figure, image_means  # noqa: E402

METHODS = ["mc", "concrete", "ensemble", "single"]
ID_FIGURES = [
    ("mIoU", ("seg", "miou")),
    ("abs-rel", ("depth", "abs_rel")),
    ("seg NLL", ("seg", "nll")),
    ("seg ECE", ("seg", "ece")),
    ("depth NLL", ("depth", "nll")),
    ("AUSE depth", ("uncertainty", "ause_depth_rmse")),
    ("AUSE seg", ("uncertainty", "ause_seg_error")),
    ("within 1σ", ("depth", "interval", "total", "z1")),
]
OOD = ["objects", "geometry"]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def lookup(report, keys):
    value = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def main(args):
    if len(args) != 1:
        sys.exit(__doc__)
    work = args[0]
    head = ["method"] + [name for name, _ in ID_FIGURES]
    for kind in OOD:
        head += [f"AUROC {kind} (MI)", f"AUROC {kind} (depth epistemic)"]
    head.append("s / image")
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for method in METHODS:
        base = load(os.path.join(work, f"eval_{method}_id.json"))
        cells = [method]
        for _, keys in ID_FIGURES:
            cells.append(figure(lookup(base, keys)) if base else "–")
        for kind in OOD:
            ood = load(os.path.join(work, f"eval_{method}_{kind}.json"))
            for key in ("seg_mutual_info_mean", "depth_epistemic_mean"):
                if base and ood:
                    cells.append(figure(auroc(image_means(ood, key), image_means(base, key))))
                else:
                    cells.append("–")
        try:
            with open(os.path.join(work, f"seconds_{method}.txt")) as f:
                cells.append(f"{float(f.read()):.3g}")
        except (OSError, ValueError):
            cells.append("–")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
