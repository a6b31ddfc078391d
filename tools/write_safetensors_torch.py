#!/usr/bin/python3
"""Golden files for tests/test_model_files.c, made from a real PyTorch module.

Builds the `unet` of DESIGN.md ("The default network") as a torch.nn.Module whose state_dict
keys are doubt's tensor names, then writes into tests/golden/model/:

  params.json              state_dict names and shapes (num_batches_tracked left out, as doubt
                           does) and parameter counts for the presets "unet", "unet-small" and
                           a tiny description, and the same for the segnet presets "segnet",
                           "segnet-small" and tools/segnet_golden.py's tiny description
                           ("segnet-tiny"), from bench/torch_segnet.py's module
  tiny_mixed.safetensors   the tiny network's state_dict as PyTorch's safetensors writer lays
                           it out (tensors sorted by dtype then name, I64 num_batches_tracked,
                           header padded with spaces), with one F16 and one BF16 tensor and
                           the network JSON in __metadata__
  tiny_nometa.safetensors  the same state_dict, all F32, without __metadata__ (what
                           safetensors.torch.save_file(state_dict) writes)
  tiny_values.json         every value of both files as the reader must decode it

Debian has no python3-safetensors, so the writer below implements the format with json and
struct. Run from the repository root: /usr/bin/python3 tools/write_safetensors_torch.py
"""
import json
import os
import struct
import sys

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from torch_segnet import PRESETS as SEGNET_PRESETS, SegNet  # noqa: E402
from segnet_golden import TINY as SEGNET_TINY  # noqa: E402

OUT = os.path.join("tests", "golden", "model")

PRESETS = {
    "unet": {"arch": "unet", "in_channels": 3, "classes": 8,
             "widths": [32, 64, 128, 256, 256], "dropout": 0.5},
    "unet-small": {"arch": "unet", "in_channels": 3, "classes": 8,
                   "widths": [16, 32, 64, 128, 128], "dropout": 0.5},
    "tiny": {"arch": "unet", "in_channels": 3, "classes": 3, "widths": [4, 8], "dropout": 0.5},
    # after the unet entries, so those stay byte-identical in params.json
    "segnet": SEGNET_PRESETS["segnet"],
    "segnet-small": SEGNET_PRESETS["segnet-small"],
    "segnet-tiny": SEGNET_TINY,
}


class Block(nn.Module):
    """conv3x3 (no bias) -> BN -> ReLU, twice."""

    def __init__(self, cin, width):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=1e-5, momentum=0.1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=1e-5, momentum=0.1)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class Task(nn.Module):
    """Learned multitask log-variances s_k (segmentation, depth); training only."""

    def __init__(self):
        super().__init__()
        self.log_var = nn.Parameter(torch.zeros(2))


class UNet(nn.Module):
    def __init__(self, desc):
        super().__init__()
        w, cin, classes = desc["widths"], desc["in_channels"], desc["classes"]
        levels = len(w)
        self.p = desc["dropout"]
        self.enc = nn.ModuleList(Block(cin if i == 0 else w[i - 1], w[i]) for i in range(levels))
        # decoder j sits at level i = L-2-j; its input is [upsampled from below, skip]
        self.dec = nn.ModuleList(Block(w[levels - 1 - j] + w[levels - 2 - j], w[levels - 2 - j])
                                 for j in range(levels - 1))
        self.head = nn.Conv2d(w[0], classes + 3, 1, bias=True)
        self.task = Task()

    def forward(self, x, mc=False):
        levels = len(self.enc)
        skips = []
        for i, block in enumerate(self.enc):
            if i > 0:
                x = F.max_pool2d(x, 2, 2)
            x = block(x)
            if i >= levels - 3:
                x = F.dropout(x, self.p, training=self.training or mc)
            skips.append(x)
        for j, block in enumerate(self.dec):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skips[levels - 2 - j]], dim=1))
            if j < 3:
                x = F.dropout(x, self.p, training=self.training or mc)
        return self.head(x)


def network_json(desc):
    return json.dumps(desc, separators=(",", ":"))


def state_dict(desc, seed):
    torch.manual_seed(seed)
    net = UNet(desc)
    # Non-trivial running statistics and task weights, so a swapped tensor shows.
    with torch.no_grad():
        for name, buf in net.named_buffers():
            if name.endswith("running_mean"):
                buf.uniform_(-0.5, 0.5)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
        net.task.log_var.uniform_(-1, 1)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(1234)
    return net


DTYPE_CODE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.int64: "I64"}
# safetensors' Dtype enum order; its writer sorts tensors by dtype (descending), then name.
DTYPE_RANK = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32",
              "U32", "F32", "F64", "I64", "U64"]


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    items = sorted(tensors.items(),
                   key=lambda kv: (-DTYPE_RANK.index(DTYPE_CODE[kv[1].dtype]), kv[0]))
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs, at = [], 0
    for name, t in items:
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPE_CODE[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def param_golden(desc):
    net = SegNet(desc) if desc["arch"] == "segnet" else UNet(desc)
    # A forward pass proves the channel counts chain up (concat widths included, unpool
    # indices matching for segnet).
    side = 2 ** len(desc["widths"])
    out = net.eval()(torch.rand(1, desc["in_channels"], side, side))
    assert out.shape == (1, desc["classes"] + 3, side, side), out.shape
    sd = net.state_dict()
    return {
        "network": network_json(desc),
        "tensors": [[k, list(v.shape)] for k, v in sd.items()
                    if not k.endswith("num_batches_tracked")],
        # what doubt calls the parameter count: trained scalars without task.log_var
        "parameters": sum(p.numel() for n, p in net.named_parameters()
                          if not n.startswith("task.")),
        "parameters_with_task": sum(p.numel() for p in net.parameters()),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    golden = {name: param_golden(desc) for name, desc in PRESETS.items()}
    with open(os.path.join(OUT, "params.json"), "w") as f:
        json.dump(golden, f, indent=1)

    desc = PRESETS["tiny"]
    sd = {k: v.detach().clone() for k, v in state_dict(desc, 5).state_dict().items()}
    f16_name, bf16_name = "dec.0.conv2.weight", "head.weight"
    mixed = dict(sd)
    f16 = sd[f16_name].clone()
    f16.view(-1)[0] = 2.0 ** -20       # a half subnormal
    f16.view(-1)[1] = -(2.0 ** -24)    # the smallest negative half subnormal
    mixed[f16_name] = f16.to(torch.float16)
    bf16 = sd[bf16_name].clone()
    bf16.view(-1)[0] = 2.0 ** -130     # a float32 subnormal, exact in bfloat16
    mixed[bf16_name] = bf16.to(torch.bfloat16)

    write_safetensors(os.path.join(OUT, "tiny_mixed.safetensors"), mixed,
                      {"network": network_json(desc), "format": "pt"})
    write_safetensors(os.path.join(OUT, "tiny_nometa.safetensors"), sd)

    values = {
        "network": network_json(desc),
        "f16": f16_name,
        "bf16": bf16_name,
        # float32 values as stored in tiny_nometa; "mixed" has what tiny_mixed decodes to
        "tensors": {k: {"shape": list(v.shape),
                        "f32": [float(x) for x in v.float().reshape(-1).numpy()],
                        "mixed": [float(x) for x in mixed[k].float().reshape(-1).numpy()]}
                    for k, v in sd.items() if v.is_floating_point()},
    }
    with open(os.path.join(OUT, "tiny_values.json"), "w") as f:
        json.dump(values, f)
    for name in golden:
        print(name, golden[name]["parameters"], "parameters,",
              len(golden[name]["tensors"]), "tensors")


if __name__ == "__main__":
    main()
