#!/usr/bin/python3
"""tools/methods_table.py on a hand-made bench/methods.sh work folder whose figures are known:
a full row, the AUROCs counted by hand, a method whose epistemic maps are 0 (AUROC 0.5),
and "–" for what is missing. Standard library only (meson needs python3 anyway)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "methods_table.py")


def report(mi, epi, miou=0.5):
    return {"seg": {"miou": miou, "nll": 0.25, "ece": 0.0125},
            "depth": {"abs_rel": 0.1, "nll": 1.5, "interval": {"total": {"z1": 0.7}}},
            "uncertainty": {"ause_depth_rmse": 0.05, "ause_seg_error": 0.0625},
            "per_image": [{"seg_mutual_info_mean": m, "depth_epistemic_mean": e}
                          for m, e in zip(mi, epi)]}


class Table(unittest.TestCase):
    def test_rows(self):
        with tempfile.TemporaryDirectory() as d:
            files = {
                # MI: OOD 0.15 vs ID 0.1, 0.2 wins 1 of 2; 0.3 wins both: 3/4. depth: 2.5/4
                "eval_mc_id.json": report([0.1, 0.2], [0.5, 0.7]),
                "eval_mc_objects.json": report([0.15, 0.3], [0.6, 0.7]),
                "eval_mc_geometry.json": report([0.4, 0.5], [0.1, 0.2]),
                # deterministic single model: every image-level epistemic figure is 0
                "eval_single_id.json": report([0, 0], [0, 0], miou=0.25),
                "eval_single_objects.json": report([0, 0], [0, 0]),
            }
            for name, r in files.items():
                with open(os.path.join(d, name), "w") as f:
                    json.dump(r, f)
            with open(os.path.join(d, "seconds_mc.txt"), "w") as f:
                f.write("0.123456\n")
            r = subprocess.run([sys.executable, TOOL, d], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().split("\n")
        self.assertEqual(len(lines), 6)
        self.assertEqual(lines[2], "| mc | 0.5 | 0.1 | 0.25 | 0.0125 | 1.5 | 0.05 | 0.0625 | 0.7 |"
                                   " 0.75 | 0.625 | 1 | 0 | 0.123 |")
        self.assertEqual(lines[3], "| concrete" + " | –" * 13 + " |")
        self.assertEqual(lines[5], "| single | 0.25 | 0.1 | 0.25 | 0.0125 | 1.5 | 0.05 | 0.0625 |"
                                   " 0.7 | 0.5 | 0.5 | – | – | – |")


if __name__ == "__main__":
    unittest.main()
