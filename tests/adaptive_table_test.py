#!/usr/bin/python3
"""tools/adaptive_table.py on a hand-made bench/adaptive.sh work folder whose figures are
known: the T columns from samples_taken, the AUROCs counted by hand (the per-image T too),
and "–" for what is missing. Standard library only."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "adaptive_table.py")


def report(mi, epi, samples):
    return {"samples_taken": {"mean": sum(samples) / len(samples), "min": min(samples),
                              "max": max(samples)},
            "seg": {"miou": 0.5}, "depth": {"abs_rel": 0.1},
            "uncertainty": {"ause_depth_rmse": 0.05, "ause_seg_error": 0.0625},
            "per_image": [{"seg_mutual_info_mean": m, "depth_epistemic_mean": e, "samples": t}
                          for m, e, t in zip(mi, epi, samples)]}


class Table(unittest.TestCase):
    def test_rows(self):
        with tempfile.TemporaryDirectory() as d:
            files = {
                "eval_w_auto_id.json": report([0.1, 0.2], [0.5, 0.7], [12, 16]),
                # MI: 0.15 beats 0.1 only, 0.3 both: 3/4; depth 0.6 beats 0.5, 0.7 ties 0.7
                # and beats 0.5: 2.5/4; T: 16 ties 16 and beats 12, 40 beats both: 3.5/4
                "eval_w_auto_objects.json": report([0.15, 0.3], [0.6, 0.7], [16, 40]),
            }
            for name, r in files.items():
                with open(os.path.join(d, name), "w") as f:
                    json.dump(r, f)
            with open(os.path.join(d, "seconds_w_auto_id.txt"), "w") as f:
                f.write("0.123456\n")
            r = subprocess.run([sys.executable, TOOL, d, "w"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().split("\n")
        self.assertEqual(len(lines), 8)
        self.assertEqual(lines[2], "| w | auto | id | 14 | 12 | 16 | 0.123 | 0.5 | 0.1 | 0.05 |"
                                   " 0.0625 | – | – | – |")
        self.assertEqual(lines[3], "| w | auto | objects | 28 | 16 | 40 | – | 0.5 | 0.1 | 0.05 |"
                                   " 0.0625 | 0.75 | 0.625 | 0.875 |")
        self.assertEqual(lines[4], "| w | auto | geometry" + " | –" * 11 + " |")
        self.assertEqual(lines[5], "| w | fixed20 | id" + " | –" * 11 + " |")

    def test_usage(self):
        r = subprocess.run([sys.executable, TOOL], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
