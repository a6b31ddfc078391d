#!/usr/bin/python3
"""tools/kendall_gal_table.py on hand-made eval reports whose figures are known: the table's
cells, the image-level AUROCs counted by hand, and the refusal of a file that is not a report.
Standard library only (meson needs python3 anyway)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                    "kendall_gal_table.py")


def report(images, mi, epi, **means):
    u = {"depth_aleatoric_mean": 1.5, "depth_aleatoric_median": 0.75,
         "depth_aleatoric_rel_mean": 0.02, "depth_epistemic_mean": 0.25,
         "depth_epistemic_median": 0.125, "depth_epistemic_rel_mean": 0.004,
         "seg_aleatoric_mean": 0.3, "seg_mutual_info_mean": 0.05}
    u.update(means)
    per = [{"name": f"i{k}", "seg_mutual_info_mean": m, "depth_epistemic_mean": e}
           for k, (m, e) in enumerate(zip(mi, epi))]
    return {"images": images, "uncertainty": u, "per_image": per}


class Table(unittest.TestCase):
    def run_tool(self, *reports):
        with tempfile.TemporaryDirectory() as d:
            args = []
            for k, (title, r) in enumerate(reports):
                path = os.path.join(d, f"{k}.json")
                with open(path, "w") as f:
                    if isinstance(r, str):
                        f.write(r)
                    else:
                        json.dump(r, f)
                args.append(f"{title}={path}")
            return subprocess.run([sys.executable, TOOL] + args, capture_output=True, text=True)

    def test_cells_and_aurocs(self):
        ident = report(2, [0.1, 0.2], [0.5, 0.7])
        # MI: pairs (0.15 > 0.1), (0.15 < 0.2), (0.3 > 0.1), (0.3 > 0.2): 3 of 4 won
        # depth epistemic: 0.6 ties nothing, beats 0.5; 0.7 ties 0.7 (1/2), beats 0.5: 2.5/4
        ood = report(2, [0.15, 0.3], [0.6, 0.7], seg_mutual_info_mean=0.125)
        r = self.run_tool(("ID", ident), ("OOD", ood))
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().split("\n")
        self.assertEqual(len(lines), 4)
        self.assertEqual(lines[2], "| ID | 2 | 1.5 | 0.75 | 0.02 | 0.25 | 0.125 | 0.004 | 0.3 | 0.05 | – | – |")
        self.assertEqual(lines[3], "| OOD | 2 | 1.5 | 0.75 | 0.02 | 0.25 | 0.125 | 0.004 | 0.3 | 0.125 | 0.75 |"
                         " 0.625 |")

    def test_perfect_separation_and_nulls(self):
        ident = report(3, [0.1, 0.2, 0.3], [1, 2, 3], depth_aleatoric_mean=None)
        ood = report(2, [0.4, 0.5], [0.1, 0.2])
        r = self.run_tool(("ID", ident), ("far", ood))
        self.assertEqual(r.returncode, 0, r.stderr)
        cells = r.stdout.strip().split("\n")[3].split(" | ")
        self.assertEqual(cells[-2], "1")    # every OOD image above every ID one
        self.assertEqual(cells[-1], "0 |")  # and below on depth epistemic
        self.assertIn("| ID | 3 | null |", r.stdout)

    def test_not_a_report(self):
        r = self.run_tool(("ID", "{\"seg\": {}}"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a doubt eval report", r.stderr)


if __name__ == "__main__":
    unittest.main()
