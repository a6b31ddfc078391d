#!/usr/bin/python3
"""Resets the segmentation log-variance channel of a doubt weights file's head, as a fresh run
initialises it, and writes the result to a new file; every other tensor is copied unchanged.

    tools/reset_seg_log_var.py IN.safetensors OUT.safetensors

The attenuated classification loss's gradient to the logit log-variance s is proportional to
σ = e^(s/2), so a head whose s has sunk to -10 (σ = 0.007) cannot recover when fine-tuned:
this gives it s = 0 (σ = 1) everywhere again, with zero weights into that channel. Channel C
of head.weight [C+3, w0, 1, 1] and head.bias [C+3], C = the number of classes (DESIGN.md).
Standard library only; F32 tensors.
"""
import json
import os
import struct
import sys
import tempfile


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[3].strip())
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        blob = bytearray(f.read())
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    classes = json.loads(header["__metadata__"]["network"])["classes"]
    base = 8 + length
    for name in ("head.weight", "head.bias"):
        t = header[name]
        if t["dtype"] != "F32":
            sys.exit(f"{src}: {name} is {t['dtype']}, not F32")
        begin, _ = t["data_offsets"]
        per_channel = 1
        for d in t["shape"][1:]:
            per_channel *= d
        at = base + begin + 4 * classes * per_channel
        blob[at : at + 4 * per_channel] = bytes(4 * per_channel)  # 0.0f is all zero bytes
    fd, tmp = tempfile.mkstemp(prefix=".reset.", dir=os.path.dirname(os.path.abspath(dst)))
    with os.fdopen(fd, "wb") as out:
        out.write(blob)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
