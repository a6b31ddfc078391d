#!/usr/bin/python3
"""Replaces the network description in a doubt weights file's __metadata__, tensors untouched.

    tools/set_network.py FILE.safetensors '{"arch":"unet",...,"no_depth_classes":[0]}'

For metadata that a description gained after the file was written (no_depth_classes): the
tensor bytes are copied as they are, and the header is padded with spaces to a multiple of 8
bytes, as doubt writes it. The new file replaces the old one atomically. The description
must be doubt's canonical form (what `doubt info FILE` prints after loading it); doubt
checks it when the file is read.
Standard library only.
"""
import json
import os
import struct
import sys
import tempfile


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    path, network = sys.argv[1], sys.argv[2]
    json.loads(network)  # refuse text that is not JSON before touching the file
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + length])
    header.setdefault("__metadata__", {})["network"] = network
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".set_network.", dir=folder)
    with os.fdopen(fd, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + blob[8 + length :])
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
