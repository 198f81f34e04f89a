"""Fit the no-answer model on labelled questions: in-scope items should be answered, `oos` ones not.

A small L2-regularised logistic regression over the retrieval signals (kb/answer/calibration.py: best
hub-corrected sentence and passage cosines, idf-weighted coverage of the question's words, strongest BM25
evidence), classes balanced. The result is written to
data/calibration.json, which overrides the shipped calibration; the threshold stays in settings.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kb.answer import FEATURES
from kb.evaluate import read_items



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


def calibrate(kb, path: Path, write: bool = True, threshold: float | None = None) -> dict:
    items = read_items(path)
    rows, labels = [], []
    for item in items:
        ans = kb.ask(item["question"], top_k=10)
        rows.append([ans.signals[f] for f in FEATURES])
        labels.append(0 if item["kind"] == "oos" else 1)
    x, y = np.asarray(rows, dtype=float), np.asarray(labels, dtype=float)
    if y.min() == y.max():
        raise ValueError("need both in-scope and oos questions to calibrate")
    bias, w = fit_logistic(x, y)
    params = {"bias": round(float(bias), 4), "weights": {f: round(float(v), 4) for f, v in zip(FEATURES, w)}}
    thr = kb.settings.answer_threshold if threshold is None else threshold
    z = bias + x @ w
    conf = 1 / (1 + np.exp(-z))
    result = {
        "calibration": params,
        "threshold": thr,
        "answered": round(float((conf[y == 1] >= thr).mean()), 3),
        "oos_reject": round(float((conf[y == 0] < thr).mean()), 3),
        "n": len(items),
    }
    if write:
        out = kb.settings.root / "calibration.json"
        out.write_text(json.dumps(params, indent=1))
        result["written"] = str(out)
    return result
