#!/usr/bin/python3
"""Writes the .npy reference files of the io tests with NumPy itself (numpy.save), so the
reader is checked against the real format and the writer against NumPy's exact bytes.

    /usr/bin/python3 tools/gen_io_golden.py

ref.npy:   float32 [2, 3, 4], value i * 0.25 - 1.5 at flat index i, except [1, 2, 3] = 1e-30
ref1d.npy: float32 [5], values 1, -2, 0.5, 3.25, 65504
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "io")


def main():
    os.makedirs(OUT, exist_ok=True)
    a = (np.arange(24, dtype=np.float32) * np.float32(0.25) - np.float32(1.5)).reshape(2, 3, 4)
    a[1, 2, 3] = np.float32(1e-30)
    np.save(os.path.join(OUT, "ref.npy"), a.astype("<f4"))
    b = np.array([1, -2, 0.5, 3.25, 65504], dtype="<f4")
    np.save(os.path.join(OUT, "ref1d.npy"), b)


if __name__ == "__main__":
    main()
