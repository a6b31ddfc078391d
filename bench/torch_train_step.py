#!/usr/bin/python3
"""PyTorch's time for the training step `doubt bench --train` times: same network, batch,
size, threads, losses (attenuated classification with T = 10 Gaussian samples, Gaussian
heteroscedastic depth, learned task weighting) and Adam. Prints one JSON line."""
import argparse
import json
import math
import statistics
import time

import torch

from torch_unet import PRESETS, UNet


def attenuated_ce(logits, log_var, labels, samples):
    std = torch.exp(0.5 * log_var)
    eps = torch.randn((samples,) + tuple(logits.shape))
    noisy = logits.unsqueeze(0) + std.unsqueeze(0) * eps
    logp = torch.log_softmax(noisy, dim=2)
    idx = labels.clamp(max=logits.shape[1] - 1).unsqueeze(0).unsqueeze(2).expand(samples, -1, 1, -1, -1)
    picked = logp.gather(2, idx).squeeze(2)
    per_pixel = -(torch.logsumexp(picked, dim=0) - math.log(samples))
    valid = labels != 255
    return per_pixel[valid].mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="unet")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = PRESETS[a.config]
    c = net["classes"]
    model = UNet(net).train()
    task_log_var = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam(list(model.parameters()) + [task_log_var], lr=1e-4, weight_decay=0)
    x = torch.rand(a.batch, 3, a.size, a.size)
    labels = torch.randint(0, c, (a.batch, a.size, a.size))
    depth = 1 + 9 * x[:, 0]
    times = []
    for step in range(a.steps + 2):
        t0 = time.perf_counter()
        out = model(x)
        seg = attenuated_ce(out[:, :c], out[:, c:c + 1], labels, 10)
        mu, s = out[:, c + 1], out[:, c + 2]
        valid = depth > 0
        # doubt's objective: the depth task precision weights only the data term
        dep_data = (0.5 * torch.exp(-s) * (depth - mu) ** 2)[valid].mean()
        dep_log = (0.5 * s)[valid].mean()
        total = torch.exp(-task_log_var[0]) * seg + 0.5 * task_log_var[0] \
            + torch.exp(-task_log_var[1]) * dep_data + dep_log + 0.5 * task_log_var[1]
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - t0)
    print(json.dumps({"bench": "torch_train", "torch": torch.__version__, "network": a.config,
                      "batch": a.batch, "size": a.size, "threads": a.threads, "steps": a.steps,
                      "train_step_s": statistics.median(times)}))


if __name__ == "__main__":
    main()
