#!/usr/bin/python3
"""Golden values for the unet network from an independent implementation: PyTorch.

Builds DESIGN.md's unet as a torch.nn.Module with the same state_dict names, fills it with
random weights and non-trivial batch-norm statistics, runs a fixed input through it
(train mode: batch statistics; dropout off, i.e. p = 0 in the module) and back-propagates
L = sum(out * R) for a fixed random R. Writes the weights, under their state_dict names, to
tests/golden/model/unet_tiny.safetensors, and the rest to unet_tiny_golden.safetensors, both
read by tests/test_unet.c: "golden.input", "golden.output" (train mode),
  "golden.output_eval" (eval mode: running statistics), "golden.grad_output" (R),
  "golden.grad.<name>" for every trained parameter, "golden.running_mean/var.<bn>" after
  the train-mode forward (momentum 0.1, unbiased variance).

Run: /usr/bin/python3 tools/unet_golden.py   (needs Debian's python3-torch, python3-numpy)
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_unet import UNet  # noqa: E402  (the module the benchmarks use too)

NET = {"arch": "unet", "in_channels": 3, "classes": 3, "widths": [4, 8, 8], "dropout": 0.5}
BATCH, HEIGHT, WIDTH = 2, 12, 16
WEIGHTS = "tests/golden/model/unet_tiny.safetensors"
GOLDEN = "tests/golden/model/unet_tiny_golden.safetensors"


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    torch.manual_seed(7)
    net = UNet(dict(NET, dropout=0.0)).double()  # dropout off: deterministic goldens
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.randn_like(p) * (0.5 if p.dim() == 4 else 0.2) + (1.0 if name.endswith("bn1.weight") or name.endswith("bn2.weight") else 0.0))
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn_like(b) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand_like(b) + 0.5)
    state = {k: v.detach().clone() for k, v in net.state_dict().items() if "num_batches" not in k}

    x = torch.rand(BATCH, NET["in_channels"], HEIGHT, WIDTH, dtype=torch.float64)
    r = torch.randn(BATCH, NET["classes"] + 3, HEIGHT, WIDTH, dtype=torch.float64)
    net.eval()
    with torch.no_grad():
        out_eval = net(x)
    net.train()
    out = net(x)
    (out * r).sum().backward()

    meta = {"network": json.dumps(NET, separators=(",", ":")), "format": "doubt-golden"}
    write_safetensors(WEIGHTS, {k: v.numpy() for k, v in state.items()}, meta)
    tensors = {}
    tensors["golden.input"] = x.numpy()
    tensors["golden.output"] = out.detach().numpy()
    tensors["golden.output_eval"] = out_eval.numpy()
    tensors["golden.grad_output"] = r.numpy()
    for name, p in net.named_parameters():
        tensors["golden.grad." + name] = p.grad.numpy()
    for name, b in net.named_buffers():
        if "running" in name:
            tensors["golden.after." + name] = b.numpy()
    write_safetensors(GOLDEN, tensors, meta)
    print(f"wrote {WEIGHTS} ({len(state)} tensors), {GOLDEN} ({len(tensors)})", file=sys.stderr)


if __name__ == "__main__":
    main()
