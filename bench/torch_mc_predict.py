#!/usr/bin/python3
"""PyTorch's MC-dropout inference on the same weights as `doubt bench --predict`: batch
norm in eval mode, dropout in train mode, T forward passes per image, and the same per-pixel
statistics (depth mean and variance, mean softmax, its entropy, expected entropy, mutual
information). --stack K runs K samples per forward (K = 1: one sample per pass, the usual
loop). Prints one JSON line with the median seconds per image and the peak RSS."""
import argparse
import json
import resource
import statistics
import time

import torch

from torch_unet import load_doubt_weights


def mc_stats(model, x, samples, stack, classes):
    sum_p = 0
    sum_h = 0
    depths = []
    for t0 in range(0, samples, stack):
        k = min(stack, samples - t0)
        out = model(x.expand(k, -1, -1, -1))
        logp = torch.log_softmax(out[:, :classes], dim=1)
        p = logp.exp()
        sum_p = sum_p + p.sum(0)
        sum_h = sum_h - (p * logp).sum(1).sum(0)
        depths.append(out[:, classes + 1])
    pbar = sum_p / samples
    entropy = -(pbar * torch.log(pbar.clamp_min(1e-30))).sum(0)
    mi = entropy - sum_h / samples
    d = torch.cat(depths)
    return d.mean(0), d.var(0, unbiased=False), entropy, mi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stack", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, net = load_doubt_weights(a.weights)
    model.eval()
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.train()
    times = []
    with torch.no_grad():
        for i in range(a.images + 1):
            x = torch.rand(1, 3, a.size, a.size)
            t0 = time.perf_counter()
            mc_stats(model, x, a.samples, a.stack, net["classes"])
            if i > 0:
                times.append(time.perf_counter() - t0)
    image_s = statistics.median(times)
    print(json.dumps({"bench": "torch_predict", "torch": torch.__version__, "size": a.size,
                      "samples": a.samples, "stack": a.stack, "threads": a.threads,
                      "image_s": image_s, "images_per_s": 1 / image_s,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
