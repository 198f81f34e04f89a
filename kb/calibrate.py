"""The no-answer model's fit: a small L2-regularised logistic regression over the retrieval signals
(kb/answer/calibration.py), classes balanced, in-scope questions answered and `oos` ones not.

`kb calibrate` fits it on the held-out rows of a cross-validation over the labelled questions
(kb/crossval/choose.py) and stores it in kb/state; the threshold stays in settings.
"""
from __future__ import annotations

import numpy as np


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.05, steps: int = 5000, lr: float = 0.5):
    """Balanced logistic regression by gradient descent on standardised features."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w = np.zeros(z.shape[1])
    b = 0.0
    pos = y.sum()
    weights = np.where(y == 1, len(y) / (2 * max(pos, 1)), len(y) / (2 * max(len(y) - pos, 1)))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = (p - y) * weights
        w -= lr * (z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    # Back to raw feature units: z = (x - mu) / sd.
    raw_w = w / sd
    raw_b = b - float((w * mu / sd).sum())
    return raw_b, raw_w
