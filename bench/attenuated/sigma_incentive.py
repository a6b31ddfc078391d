#!/usr/bin/python3
"""Does Kendall & Gal's attenuated classification loss reward a logit variance on noisy labels?

For one pixel, the expected loss E_eps[-log(1/T sum_t softmax(mu + sigma*eps_t)[y])] over the
label distribution, as a function of sigma, with T = 10 (doubt train's --loss-samples) and
T = 1000 (close to the exact -log E[softmax]). Three pixels of 8 classes:
  calibrated coin toss: label 0 or 1 with probability 1/2 each, mean logits tied (2, 2, -4...);
  clean, confident:      label 0, mean logits (6, 0, -4...);
  overconfident, noisy:  label 0 or 1 with probability 1/2, mean logits (6, 0, -4...).
A logit variance lowers the loss only where the mean is confidently wrong; once the mean is
calibrated (it can be: the softmax already says 50/50), every sigma > 0 costs more on the
ambiguous pixel than on the clean one, so training drives it lower exactly where labels are
noisy. NumPy only; the printed table is recorded in bench/README.md.

    /usr/bin/python3 bench/attenuated/sigma_incentive.py
"""
import numpy as np

C = 8
REST = [-4.0] * (C - 2)
PIXELS = [
    ("calibrated coin toss", np.array([2.0, 2.0] + REST), [(0, 0.5), (1, 0.5)]),
    ("clean, confident", np.array([6.0, 0.0] + REST), [(0, 1.0)]),
    ("overconfident, noisy", np.array([6.0, 0.0] + REST), [(0, 0.5), (1, 0.5)]),
]


def expected_loss(rng, mu, labels, sigma, samples, draws):
    x = mu + sigma * rng.standard_normal((draws, samples, C))
    x -= x.max(-1, keepdims=True)
    p = np.exp(x)
    p /= p.sum(-1, keepdims=True)
    p_mean = p.mean(1)
    return sum(q * -np.log(p_mean[:, y]).mean() for y, q in labels)


def main():
    rng = np.random.default_rng(0)
    sigmas = (0.0, 0.5, 1.0, 2.0, 4.0)
    for samples, draws in ((10, 20000), (1000, 400)):
        print(f"T = {samples}: expected loss minus its value at sigma = 0")
        print("  %-22s" % "pixel" + "".join(f"  sigma={s:<4}" for s in sigmas[1:]))
        for name, mu, labels in PIXELS:
            base = expected_loss(rng, mu, labels, 0.0, 1, 1)
            row = [expected_loss(rng, mu, labels, s, samples, draws) - base for s in sigmas[1:]]
            print("  %-22s" % name + "".join(f"  {v:+10.4f}" for v in row))
        print()


if __name__ == "__main__":
    main()
