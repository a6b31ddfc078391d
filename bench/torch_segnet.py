"""Bayesian SegNet (Kendall, Badrinarayanan & Cipolla 2015) in PyTorch, as doubt describes it.

An independent reference for doubt's `segnet` architecture (tools/segnet_golden.py,
tools/write_safetensors_torch.py; the benchmarks may use it as they use torch_unet.py).
Debian's python3-torch; not used by doubt itself.

Description (the JSON stored in weights files' __metadata__ under "network"):
  {"arch":"segnet","in_channels":3,"classes":8,"widths":[16,32,64,128,128],
   "convs":[2,2,3,3,3],"dropout":0.5}
With L = len(widths), a "unit" = 3x3 conv (pad 1, no bias) -> BatchNorm2d (eps 1e-5,
momentum 0.1) -> ReLU:
  encoder stage i = 0..L-1 (`enc.i`): convs[i] units, all with widths[i] outputs (the first
      takes in_channels for i = 0, else widths[i-1]); then a 2x2 max pool, stride 2, whose
      argmax indices are kept; dropout on the pooled output when i >= L-3.
  decoder stage j = 0..L-1 (`dec.j`) at level i = L-1-j: max-unpool 2x2 with encoder stage
      i's indices to stage i's size before pooling; then convs[i] units, all with widths[i]
      outputs except the stage's last, which has widths[i-1] (widths[0] for i = 0). Every
      unit's input is widths[i] channels: what is unpooled is the previous decoder stage's
      output, widths[i] (or the encoder's last, widths[L-1], for j = 0). Dropout on the
      output of decoder stages j < 3.
  head: 1x1 conv with bias, classes + 3 outputs (0..C-1 segmentation logits, C segmentation
      log-variance, C+1 depth, C+2 depth log-variance).
  task.log_var [2]: the learned multitask log-variances doubt trains (unused in forward).
Dropout is nn.functional.dropout (element-wise, scaled by 1/(1-p)); it is active in train
mode, or in any mode when forward(x, mc=True) is called or model.mc is set (MC dropout with
batch norm in eval mode). H and W must be multiples of 2^L.

State_dict names: enc.{i}.{k}.conv.weight, enc.{i}.{k}.bn.{weight,bias,running_mean,
running_var,num_batches_tracked}, dec.{j}.{k}.*, head.weight, head.bias, task.log_var;
doubt's files leave out num_batches_tracked.
"""
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_unet import read_safetensors

PRESETS = {
    "segnet": {"arch": "segnet", "in_channels": 3, "classes": 8,
               "widths": [64, 128, 256, 512, 512], "convs": [2, 2, 3, 3, 3], "dropout": 0.5},
    "segnet-small": {"arch": "segnet", "in_channels": 3, "classes": 8,
                     "widths": [16, 32, 64, 128, 128], "convs": [2, 2, 3, 3, 3],
                     "dropout": 0.5},
}


class Unit(nn.Module):
    """3x3 conv (no bias) -> BN -> ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Task(nn.Module):
    """Learned multitask log-variances (segmentation, depth); training only."""

    def __init__(self):
        super().__init__()
        self.log_var = nn.Parameter(torch.zeros(2))


def stage_channels(net):
    """[(cin, cout) per unit] for the encoder and decoder stages, from the rules above."""
    w, convs = net["widths"], net["convs"]
    levels = len(w)
    assert len(convs) == levels and all(c >= 1 for c in convs), net
    enc = []
    for i in range(levels):
        first = net["in_channels"] if i == 0 else w[i - 1]
        enc.append([(first if k == 0 else w[i], w[i]) for k in range(convs[i])])
    dec = []
    for j in range(levels):
        i = levels - 1 - j
        last = w[i - 1] if i > 0 else w[0]
        # what is unpooled: the previous decoder stage's output (its last unit's width)
        first = w[levels - 1] if j == 0 else dec[j - 1][-1][1]
        dec.append([(first if k == 0 else w[i], last if k == convs[i] - 1 else w[i])
                    for k in range(convs[i])])
    return enc, dec


class SegNet(nn.Module):
    def __init__(self, net, mc=False):
        super().__init__()
        assert net.get("arch", "segnet") == "segnet", net
        enc, dec = stage_channels(net)
        self.p = net["dropout"]
        self.mc = mc
        self.enc = nn.ModuleList(nn.ModuleList(Unit(a, b) for a, b in s) for s in enc)
        self.dec = nn.ModuleList(nn.ModuleList(Unit(a, b) for a, b in s) for s in dec)
        self.head = nn.Conv2d(net["widths"][0], net["classes"] + 3, 1, bias=True)
        self.task = Task()

    def _drop(self, x, mc):
        if self.p == 0:
            return x
        return F.dropout(x, self.p, training=self.training or self.mc or mc)

    def forward(self, x, mc=False):
        levels = len(self.enc)
        assert x.shape[-2] % 2 ** levels == 0 and x.shape[-1] % 2 ** levels == 0, x.shape
        indices, sizes = [], []
        for i, stage in enumerate(self.enc):
            for unit in stage:
                x = unit(x)
            sizes.append(x.shape[-2:])
            x, idx = F.max_pool2d(x, 2, 2, return_indices=True)
            indices.append(idx)
            if i >= levels - 3:
                x = self._drop(x, mc)
        for j, stage in enumerate(self.dec):
            i = levels - 1 - j
            x = F.max_unpool2d(x, indices[i], 2, 2, output_size=sizes[i])
            for unit in stage:
                x = unit(x)
            if j < 3:
                x = self._drop(x, mc)
        return self.head(x)


def load_doubt_weights(path, mc=False):
    """(model, description) from a doubt weights file; task.log_var is optional."""
    tensors, meta = read_safetensors(path)
    net = json.loads(meta["network"])
    model = SegNet(net, mc=mc)
    state = model.state_dict()
    for name in state:
        if name.endswith("num_batches_tracked") or (name == "task.log_var" and name not in tensors):
            continue
        state[name] = torch.from_numpy(tensors[name].copy())
    model.load_state_dict(state)
    return model, net
