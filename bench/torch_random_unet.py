"""Writes PyTorch's randomly initialised `unet` (seed 0) as a doubt weights file, for the MC
inference peers (bench/run.sh, bench/speed.sh): torch_random_unet.py OUT.safetensors"""
import sys, json, struct
sys.path.insert(0, "bench")
import torch, numpy as np
from torch_unet import UNet, PRESETS
torch.manual_seed(0)
m = UNet(PRESETS["unet"])
tensors = {k: v.numpy().astype("<f4") for k, v in m.state_dict().items() if "num_batches" not in k}
header, off, blobs = {"__metadata__": {"network": json.dumps(PRESETS["unet"], separators=(",", ":"))}}, 0, []
for k, v in tensors.items():
    b = np.ascontiguousarray(v).tobytes()
    header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
    off += len(b); blobs.append(b)
h = json.dumps(header).encode(); h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
