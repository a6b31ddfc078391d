"""Goldens for doubt's moment propagation (src/model/propagate.h), computed independently in
float64 with PyTorch's functional ops and the exact normal CDF (torch.special.ndtr), following
the architectures as bench/torch_unet.py and bench/torch_segnet.py spell them.

Writes tests/golden/model/propagate_golden.safetensors with, for each case NAME,
NAME.input [1, 3, H, W], NAME.mean and NAME.var [1, C+3, H, W] (float32):
  unet_tiny   tests/golden/model/unet_tiny.safetensors at 12×16 (widths 4, 8, 8: padded
              channel blocks; every level has dropout)
  unet_small  the shipped weights/unet-small.safetensors at 32×32 (the first two levels
              carry no variance)
  segnet_tiny tests/golden/model/segnet_tiny.safetensors at 16×16 (pools, unpools)
The rules, as propagate.h states them: dropout v' = (v + m²)/(1−p) − m²; conv mean through W,
variance through W² (batch norm folded first); ReLU by Gaussian moment matching; 2×2 max
pool by Clark's max, max(max(x00, x01), max(x10, x11)), unpool at the argmax of the means;
bilinear ×2 (half-pixel, clamped) with the weights for the mean and their squares for the
variance. Run from the repository root: /usr/bin/python3 tools/propagate_golden.py
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from torch_unet import read_safetensors  # noqa: E402
from torch_segnet import stage_channels  # noqa: E402
from write_safetensors_torch import write_safetensors  # noqa: E402

EPS = 1e-5
torch.set_default_dtype(torch.float64)


def phi(z):
    return torch.exp(-0.5 * z * z) / (2 * torch.pi) ** 0.5


def relu_moments(m, v):
    s = v.clamp(min=0).sqrt()
    z = m / s.clamp(min=1e-300)
    cdf, pdf = torch.special.ndtr(z), phi(z)
    mean = m * cdf + s * pdf
    second = (m * m + v) * cdf + m * s * pdf
    var = (second - mean * mean).clamp(min=0)
    exact = s == 0
    return torch.where(exact, m.clamp(min=0), mean), torch.where(exact, v * 0, var)


def max_moments(ma, va, mb, vb):
    theta = (va + vb).clamp(min=0).sqrt()
    a = (ma - mb) / theta.clamp(min=1e-300)
    cdf, pdf = torch.special.ndtr(a), phi(a)
    mean = ma * cdf + mb * (1 - cdf) + theta * pdf
    second = (ma * ma + va) * cdf + (mb * mb + vb) * (1 - cdf) + (ma + mb) * theta * pdf
    var = (second - mean * mean).clamp(min=0)
    exact = theta == 0
    return (torch.where(exact, torch.maximum(ma, mb), mean),
            torch.where(exact, torch.where(ma >= mb, va, vb), var))


def conv_w(t, w, m, v, relu, bn_prefix, has_bn, bias_name=None):
    """Convolution (batch norm `bn_prefix` folded in when has_bn), then the ReLU if relu."""
    w = w.clone()
    b = t[bias_name] if bias_name else torch.zeros(w.shape[0])
    if has_bn:
        g, beta, rm, rv = (t[bn_prefix + k] for k in ("weight", "bias", "running_mean", "running_var"))
        scale = g / torch.sqrt(rv + EPS)
        w = w * scale[:, None, None, None]
        b = beta + (b - rm) * scale
    pad = w.shape[-1] // 2
    mean = F.conv2d(m, w, b, padding=pad)
    var = F.conv2d(v, w * w, None, padding=pad)
    return relu_moments(mean, var) if relu else (mean, var)


def dropout(m, v, p):
    if p <= 0:
        return m, v
    return m, ((v + m * m) / (1 - p) - m * m).clamp(min=0)


def upsample_matrix(n):
    u = torch.zeros(2 * n, n)
    for o in range(2 * n):
        i = o // 2
        j = i + 1 if o % 2 else i - 1
        if 0 <= j < n:
            u[o, i] += 0.75
            u[o, j] += 0.25
        else:
            u[o, i] += 1.0
    return u


def upsample(m, v):
    uy, ux = upsample_matrix(m.shape[2]), upsample_matrix(m.shape[3])
    mean = torch.einsum("oh,nchw,pw->ncop", uy, m, ux)
    var = torch.einsum("oh,nchw,pw->ncop", uy * uy, v, ux * ux)
    return mean, var


def windows(x):
    """The four 2x2 window positions (00, 01, 10, 11) of x, each [N, C, H/2, W/2]."""
    return x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]


def pool(m, v):
    (m0, m1, m2, m3), (v0, v1, v2, v3) = windows(m), windows(v)
    a = max_moments(m0, v0, m1, v1)
    b = max_moments(m2, v2, m3, v3)
    mean, var = max_moments(a[0], a[1], b[0], b[1])
    # the first window position of the largest mean, as the C kernel picks it
    stacked = torch.stack([m0, m1, m2, m3])
    best = torch.zeros_like(m0, dtype=torch.long)
    top = m0.clone()
    for q in range(1, 4):
        better = stacked[q] > top
        best = torch.where(better, torch.full_like(best, q), best)
        top = torch.where(better, stacked[q], top)
    return mean, var, best


def unpool(m, v, best):
    n, c, h, w = m.shape
    om, ov = torch.zeros(n, c, 2 * h, 2 * w), torch.zeros(n, c, 2 * h, 2 * w)
    for q in range(4):
        sel = best == q
        om[:, :, q // 2::2, q % 2::2] = torch.where(sel, m, 0.0)
        ov[:, :, q // 2::2, q % 2::2] = torch.where(sel, v, 0.0)
    return om, ov


def rate(net, site):
    r = net.get("dropout", 0.5)
    return r[site] if isinstance(r, list) else r


def unet(t, net, x):
    w = net["widths"]
    levels = len(w)
    m, v = x, torch.zeros_like(x)
    skips, site = [], 0
    for i in range(levels):
        if i > 0:
            m, v, _ = pool(m, v)
        m, v = conv_w(t, t[f"enc.{i}.conv1.weight"], m, v, True, f"enc.{i}.bn1.", True)
        m, v = conv_w(t, t[f"enc.{i}.conv2.weight"], m, v, True, f"enc.{i}.bn2.", True)
        if i >= levels - 3:
            m, v = dropout(m, v, rate(net, site))
            site += 1
        skips.append((m, v))
    for j in range(levels - 1):
        m, v = upsample(m, v)
        sm, sv = skips[len(skips) - 2 - j]
        m, v = torch.cat([m, sm], 1), torch.cat([v, sv], 1)
        m, v = conv_w(t, t[f"dec.{j}.conv1.weight"], m, v, True, f"dec.{j}.bn1.", True)
        m, v = conv_w(t, t[f"dec.{j}.conv2.weight"], m, v, True, f"dec.{j}.bn2.", True)
        if j < 3:
            m, v = dropout(m, v, rate(net, site))
            site += 1
    return conv_w(t, t["head.weight"], m, v, False, None, False, "head.bias")


def segnet(t, net, x):
    enc, dec = stage_channels(net)
    levels = len(net["widths"])
    m, v = x, torch.zeros_like(x)
    indices, site = [], 0
    for i in range(levels):
        for k in range(len(enc[i])):
            m, v = conv_w(t, t[f"enc.{i}.{k}.conv.weight"], m, v, True, f"enc.{i}.{k}.bn.", True)
        m, v, best = pool(m, v)
        indices.append(best)
        if i >= levels - 3:
            m, v = dropout(m, v, rate(net, site))
            site += 1
    for j in range(levels):
        i = levels - 1 - j
        m, v = unpool(m, v, indices[i])
        for k in range(len(dec[j])):
            m, v = conv_w(t, t[f"dec.{j}.{k}.conv.weight"], m, v, True, f"dec.{j}.{k}.bn.", True)
        if j < 3:
            m, v = dropout(m, v, rate(net, site))
            site += 1
    return conv_w(t, t["head.weight"], m, v, False, None, False, "head.bias")


CASES = [("unet_tiny", "tests/golden/model/unet_tiny.safetensors", 12, 16),
         ("unet_small", "weights/unet-small.safetensors", 32, 32),
         ("segnet_tiny", "tests/golden/model/segnet_tiny.safetensors", 16, 16)]


def main():
    out = {}
    gen = torch.Generator().manual_seed(17)
    for name, path, h, w in CASES:
        arrays, meta = read_safetensors(os.path.join(ROOT, path))
        t = {k: torch.from_numpy(a.astype("float64")) for k, a in arrays.items()}
        net = json.loads(meta["network"])
        x = torch.rand(1, net["in_channels"], h, w, generator=gen)
        mean, var = (segnet if net["arch"] == "segnet" else unet)(t, net, x)
        out[name + ".input"] = x.float()
        out[name + ".mean"] = mean.float()
        out[name + ".var"] = var.float()
        print(f"{name}: var range {var.min().item():.3g} .. {var.max().item():.3g}")
    write_safetensors(os.path.join(ROOT, "tests/golden/model/propagate_golden.safetensors"), out,
                      {"format": "doubt-golden"})


if __name__ == "__main__":
    main()
