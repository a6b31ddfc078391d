#!/usr/bin/python3
"""tools/propagate_compare.py on hand-made map folders whose Spearman correlations are known
by hand: ties share their mean rank, NaN pixels are left out, a reversed map gives -1.
Needs NumPy (python3-numpy, which CI installs with python3-skimage); skipped without it."""
import os
import subprocess
import sys
import tempfile
import unittest

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                    "propagate_compare.py")
try:
    import numpy as np
except ImportError:
    np = None


@unittest.skipIf(np is None, "NumPy is not installed for this python3")
class Compare(unittest.TestCase):
    def test_known_correlations(self):
        with tempfile.TemporaryDirectory() as d:
            prop, ref = os.path.join(d, "p"), os.path.join(d, "r")
            os.makedirs(prop)
            os.makedirs(ref)
            # depth: image a agrees in rank but for one swap (rho = 0.8 on 4 values), a NaN
            # pixel in the reference is left out; image b has ties
            np.save(os.path.join(prop, "a.depth_epistemic.npy"),
                    np.array([[1, 2], [3, 4], [9, 9]], np.float32))
            np.save(os.path.join(ref, "a.depth_epistemic.npy"),
                    np.array([[1, 3], [2, 4], [np.nan, 5]], np.float32))
            np.save(os.path.join(prop, "b.depth_epistemic.npy"), np.array([1, 1, 2], np.float32))
            np.save(os.path.join(ref, "b.depth_epistemic.npy"), np.array([5, 6, 7], np.float32))
            for name in ("a", "b"):  # mutual information: reversed order, rho = -1
                np.save(os.path.join(prop, f"{name}.seg_mutual_info.npy"),
                        np.array([1, 2, 3], np.float32))
                np.save(os.path.join(ref, f"{name}.seg_mutual_info.npy"),
                        np.array([3, 2, 1], np.float32))
            out = os.path.join(d, "out.json")
            subprocess.run([sys.executable, TOOL, prop, ref, "--json", out], check=True,
                           capture_output=True)
            import json
            r = json.load(open(out))
            depth = r["depth_epistemic"]
            self.assertEqual(depth["pixels"], 5 + 3)
            # image a: ranks [0,1,2,3,4] vs [0,2,1,3,4]: 1 - 6*2/(5*24) = 0.9
            # image b: ranks [0.5,0.5,2] vs [0,1,2]: Pearson = sqrt(3)/2
            self.assertAlmostEqual(depth["spearman_median_image"], (0.9 + 3 ** 0.5 / 2) / 2, 6)
            self.assertAlmostEqual(r["seg_mutual_info"]["spearman_pooled"], -1.0, 6)


if __name__ == "__main__":
    unittest.main()
