#!/usr/bin/python3
r"""The shape of Kendall & Gal 2017's Table 3 from `doubt eval` reports of one weights file.

    tools/kendall_gal_table.py "in distribution=id.json" "OOD objects=objects.json" \
        "OOD geometry=geometry.json"

The first report is the in-distribution set; each later one is a test set compared with it.
Prints a markdown table, one row per report: depth aleatoric and epistemic variance over
the pixels with valid depth ground truth (the mean and the median in m², and the mean of
variance / depth², unitless; the median because a log-depth head's variance is
heavy-tailed, so a few very unsure pixels can carry the mean; null in older reports),
segmentation expected entropy and mutual information (nats, mean over all pixels), then, for
each later set, the AUROC with which the image-level mean mutual information (and the
image-level mean depth epistemic variance) tells its images from the in-distribution ones:
0.5 is chance, 1 every OOD image ranks above every in-distribution image. Reports come from
`doubt eval --json` (they carry per_image means). Standard library only.
"""
import json
import sys

COLUMNS = [
    ("depth aleatoric (m²)", "depth_aleatoric_mean"),
    ("depth aleatoric median (m²)", "depth_aleatoric_median"),
    ("depth aleatoric / y²", "depth_aleatoric_rel_mean"),
    ("depth epistemic (m²)", "depth_epistemic_mean"),
    ("depth epistemic median (m²)", "depth_epistemic_median"),
    ("depth epistemic / y²", "depth_epistemic_rel_mean"),
    ("seg expected entropy (nats)", "seg_aleatoric_mean"),
    ("seg mutual information (nats)", "seg_mutual_info_mean"),
]


def auroc(positive, negative):
    """P(score of a positive > score of a negative), ties counting 1/2."""
    if not positive or not negative:
        return None
    ordered = sorted([(v, 1) for v in positive] + [(v, 0) for v in negative])
    rank_sum, i = 0.0, 0
    while i < len(ordered):  # average ranks (1-based) over runs of ties
        j = i
        while j < len(ordered) and ordered[j][0] == ordered[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2
        rank_sum += mean_rank * sum(label for _, label in ordered[i:j])
        i = j
    n_pos, n_neg = len(positive), len(negative)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def figure(value):
    return "null" if value is None else f"{value:.4g}"


def image_means(report, key):
    return [image[key] for image in report["per_image"] if image.get(key) is not None]


def main(args):
    if not args or any("=" not in a for a in args):
        sys.exit(__doc__)
    sets = []
    for arg in args:
        title, path = arg.split("=", 1)
        try:
            with open(path) as f:
                report = json.load(f)
            report["uncertainty"], report["per_image"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            sys.exit(f"{path}: not a doubt eval report with per_image means ({e})")
        sets.append((title, report))

    head = ["test set", "images"] + [name for name, _ in COLUMNS]
    head += ["AUROC vs first, image mean MI", "AUROC vs first, image mean depth epistemic"]
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    reference = sets[0][1]
    for k, (title, report) in enumerate(sets):
        cells = [title, str(report.get("images"))]
        cells += [figure(report["uncertainty"].get(key)) for _, key in COLUMNS]
        for key in ("seg_mutual_info_mean", "depth_epistemic_mean"):
            if k == 0:
                cells.append("–")
            else:
                cells.append(figure(auroc(image_means(report, key), image_means(reference, key))))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
