"""DESIGN.md's unet in PyTorch, with dropout where doubt has it, and a safetensors reader.
Shared by the benchmark scripts in bench/ (Debian's python3-torch; not used by doubt)."""
import json
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "unet": {"arch": "unet", "in_channels": 3, "classes": 8, "widths": [32, 64, 128, 256, 256], "dropout": 0.5},
    "unet-small": {"arch": "unet", "in_channels": 3, "classes": 8, "widths": [16, 32, 64, 128, 128], "dropout": 0.5},
}


class Block(nn.Module):
    def __init__(self, cin, cout, p):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout(p) if p > 0 else nn.Identity()

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.drop(F.relu(self.bn2(self.conv2(x))))


class UNet(nn.Module):
    def __init__(self, net):
        super().__init__()
        w, p = net["widths"], net["dropout"]
        levels = len(w)
        cin = [net["in_channels"]] + w[:-1]
        self.enc = nn.ModuleList(Block(cin[i], w[i], p if i >= levels - 3 else 0) for i in range(levels))
        self.dec = nn.ModuleList(
            Block(w[levels - 1 - j] + w[levels - 2 - j], w[levels - 2 - j], p if j < 3 else 0)
            for j in range(levels - 1))
        self.head = nn.Conv2d(w[0], net["classes"] + 3, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.enc):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for j, block in enumerate(self.dec):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skips[len(skips) - 2 - j]], dim=1))
        return self.head(x)


def read_safetensors(path):
    """Returns ({name: np.float32 array}, metadata) for F32 files."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", f"{path}: {name} is {info['dtype']}"
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return tensors, meta


def load_doubt_weights(path):
    tensors, meta = read_safetensors(path)
    net = json.loads(meta["network"])
    model = UNet(net)
    state = model.state_dict()
    for name in state:
        if name.endswith("num_batches_tracked"):
            continue
        state[name] = torch.from_numpy(tensors[name].copy())
    model.load_state_dict(state)
    return model, net
