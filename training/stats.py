"""Per-feature statistics for drift checks: a histogram over the 17 integer intensities,
mean and std per pixel, and class counts. Accumulated chunk by chunk (memory stays flat).

Shape (shared by preprocess's `featureStats` and a model's `reference.json`):
`{"bins": [0, 1, ..., 17], "features": {"p0": {"counts": [17 ints], "mean", "std"}, ...}}`
where bin i counts pixels with value i (edges are [i, i+1)).

A model's `reference.json` (`reference()`): `featureStats` and the class mix of every curated
row the model saw (its training split and its hold-out: a larger sample is a less noisy
reference), `rows`, the label `classCounts` and `classDistribution`, and
`predictedClassCounts`, the model's own predictions on those rows, which is what a scored
batch's predicted class counts are compared with. The drift checks test raw counts, so
`counts` stay integers.
"""
from __future__ import annotations

import numpy as np

N_FEATURES = 64
N_CLASSES = 10
MAX_PIXEL = 16
BINS = list(range(MAX_PIXEL + 2))


class FeatureStats:
    def __init__(self) -> None:
        self.counts = np.zeros((N_FEATURES, MAX_PIXEL + 1), dtype=np.int64)
        self.n = 0
        self.total = np.zeros(N_FEATURES, dtype=np.float64)
        self.total_sq = np.zeros(N_FEATURES, dtype=np.float64)

    def update(self, X: np.ndarray) -> None:
        if len(X) == 0:
            return
        X = np.asarray(X)
        for j in range(N_FEATURES):
            self.counts[j] += np.bincount(X[:, j], minlength=MAX_PIXEL + 1)[: MAX_PIXEL + 1]
        Xf = X.astype(np.float64)
        self.total += Xf.sum(axis=0)
        self.total_sq += (Xf * Xf).sum(axis=0)
        self.n += len(X)

    def to_dict(self) -> dict:
        n = max(self.n, 1)
        mean = self.total / n
        std = np.sqrt(np.maximum(self.total_sq / n - mean * mean, 0.0))
        return {
            "bins": BINS,
            "features": {
                f"p{j}": {
                    "counts": [int(c) for c in self.counts[j]],
                    "mean": round(float(mean[j]), 6) if self.n else None,
                    "std": round(float(std[j]), 6) if self.n else None,
                }
                for j in range(N_FEATURES)
            },
        }


def class_counts(y: np.ndarray) -> dict[str, int]:
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=N_CLASSES)[:N_CLASSES]
    return {str(c): int(counts[c]) for c in range(N_CLASSES)}


def class_distribution(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {k: (round(v / total, 6) if total else 0.0) for k, v in counts.items()}


def reference(X: np.ndarray, y: np.ndarray, predicted: np.ndarray | None) -> dict:
    """The drift reference of the rows a model saw (see the module docstring)."""
    stats = FeatureStats()
    stats.update(X)
    labels = class_counts(y)
    out = {"featureStats": stats.to_dict(), "rows": int(len(y)), "classCounts": labels,
           "classDistribution": class_distribution(labels)}
    if predicted is not None:
        out["predictedClassCounts"] = class_counts(predicted)
    return out
