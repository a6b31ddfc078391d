#!/usr/bin/python3
"""Which temperature t for Concrete dropout (Gal, Hron & Kendall 2017)?

Training uses the relaxed mask z~ = sigmoid((logit p + logit u) / t), u ~ U(0, 1), and keeps
x * (1 - z~) / (1 - p); prediction uses the Bernoulli mask at the learned p. The relaxation
matches prediction when (a) E[(1 - z~) / (1 - p)] = 1 (the kept activations have the scale
they get with Bernoulli masks) and (b) z~ is nearly 0 or 1 (each draw looks like a Bernoulli
draw). Both hold as t -> 0; a small t makes the gradient to p noisier. This script measures,
for the paper's two values (0.1 for dense layers, 2/3 for its spatial version) and rates
p = 0.05 .. 0.5: the mean kept scale, the share of draws within 0.05 of 0 or 1, and the
coefficient of variation of the pathwise gradient d/d logit p of the kept scale.
Run: /usr/bin/python3 bench/concrete/temperature.py
"""
import numpy as np

rng = np.random.default_rng(0)
u = rng.uniform(1e-7, 1 - 1e-7, 2_000_000)
print("| t | p | mean kept scale | draws near 0 or 1 | gradient CV |")
print("|---|---|---|---|---|")
for t in (0.1, 2 / 3):
    for p in (0.05, 0.1, 0.25, 0.5):
        z = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + np.log(u / (1 - u))) / t))
        scale = (1 - z) / (1 - p)
        grad = (p * (1 - z) - z * (1 - z) / t) / (1 - p)
        near = np.mean((z < 0.05) | (z > 0.95))
        print(f"| {t:.3g} | {p:g} | {scale.mean():.4f} | {near:.3f} | {grad.std() / abs(grad.mean()):.1f} |")
