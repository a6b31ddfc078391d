#!/usr/bin/python3
"""Edits a doubt weights file (safetensors, F32) in place of retraining it; every byte not
named here is copied unchanged and the output replaces OUT atomically.

    tools/edit_weights.py IN OUT --network JSON
        Replaces the network description in __metadata__, e.g. to add what a description
        gained after the file was written ("no_depth_classes"). JSON must be doubt's
        canonical form (`doubt info OUT` checks it when it reads the file).
    tools/edit_weights.py IN OUT --reset-seg-log-var
        Gives the head's segmentation log-variance channel (channel C of head.weight
        [C+3, w0, 1, 1] and head.bias, C = classes) zero weights and bias, s = 0 (sigma = 1)
        everywhere, as a fresh run starts it: the attenuated loss's gradient to s is
        proportional to sigma, so a channel sunk to s = -8 cannot recover when fine-tuned.

IN and OUT may be the same file. Standard library only.
"""
import json
import os
import struct
import sys
import tempfile


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + length]), bytearray(blob[8 + length :])


def write(path, header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # doubt pads the header to a multiple of 8 bytes
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".edit_weights.", dir=folder)
    with os.fdopen(fd, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + data)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def reset_seg_log_var(header, data):
    classes = json.loads(header["__metadata__"]["network"])["classes"]
    for name in ("head.weight", "head.bias"):
        t = header[name]
        if t["dtype"] != "F32":
            sys.exit(f"{name} is {t['dtype']}, not F32")
        per_channel = 1
        for d in t["shape"][1:]:
            per_channel *= d
        at = t["data_offsets"][0] + 4 * classes * per_channel
        data[at : at + 4 * per_channel] = bytes(4 * per_channel)  # 0.0f is all zero bytes


def main(args):
    if len(args) == 4 and args[2] == "--network":
        json.loads(args[3])  # refuse text that is not JSON before writing anything
    elif not (len(args) == 3 and args[2] == "--reset-seg-log-var"):
        sys.exit(__doc__)
    header, data = read(args[0])
    if args[2] == "--network":
        header.setdefault("__metadata__", {})["network"] = args[3]
    else:
        reset_seg_log_var(header, data)
    write(args[1], header, data)


if __name__ == "__main__":
    main(sys.argv[1:])
