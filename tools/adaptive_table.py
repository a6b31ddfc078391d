#!/usr/bin/python3
r"""The table of bench/adaptive.sh from its `doubt eval` reports.

    tools/adaptive_table.py WORKDIR NAME...

reads WORKDIR/eval_NAME_{auto,fixed20}_{id,objects,geometry}.json and
WORKDIR/seconds_NAME_MODE_SET.txt (seconds per image, written by the script) and prints one
markdown row per weights NAME, mode and set: the mean, min and max T the images took
(samples_taken), seconds per image, mIoU, abs-rel, AUSE of depth (RMSE ranked by total
variance) and of segmentation (error ranked by predictive entropy), and on an OOD set the
AUROC with which the image-level mean mutual information and mean depth epistemic variance
tell its images from the in-distribution set's (same weights and mode), and the AUROC of the
T each image took for the same task (above 0.5: OOD images took more samples). Missing
reports give "–". Standard library only.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kendall_gal_table import auroc, image_means  # noqa: E402
from methods_table import load, lookup  # noqa: E402

MODES = ["auto", "fixed20"]
SETS = ["id", "objects", "geometry"]
FIGURES = [
    ("mIoU", ("seg", "miou")),
    ("abs-rel", ("depth", "abs_rel")),
    ("AUSE depth", ("uncertainty", "ause_depth_rmse")),
    ("AUSE seg", ("uncertainty", "ause_seg_error")),
]
OOD_SCORES = [("MI", "seg_mutual_info_mean"), ("depth epistemic", "depth_epistemic_mean"),
              ("T", "samples")]




def cell(value, digits=4):
    return "–" if value is None else f"{value:.{digits}g}"


def seconds(path):
    try:
        with open(path) as f:
            return float(f.read())
    except (OSError, ValueError):
        return None


def main(args):
    if len(args) < 2:
        sys.exit(__doc__)
    work, names = args[0], args[1:]
    head = ["weights", "mode", "set", "mean T", "min T", "max T", "s/image"]
    head += [name for name, _ in FIGURES] + [f"AUROC ({name})" for name, _ in OOD_SCORES]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        for mode in MODES:
            base = load(os.path.join(work, f"eval_{name}_{mode}_id.json"))
            for s in SETS:
                report = load(os.path.join(work, f"eval_{name}_{mode}_{s}.json"))
                row = [name, mode, s]
                row += [cell(lookup(report, ("samples_taken", k)), 3)
                        for k in ("mean", "min", "max")]
                row.append(cell(seconds(os.path.join(work, f"seconds_{name}_{mode}_{s}.txt")), 3))
                row += [cell(lookup(report, keys)) for _, keys in FIGURES]
                for _, key in OOD_SCORES:
                    ood = s != "id" and report and base
                    row.append(cell(auroc(image_means(report, key), image_means(base, key)))
                               if ood else "–")
                print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
