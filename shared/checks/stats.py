"""Statistics the checks are built on, each small enough to verify by hand.

- PSI (population stability index): sum((a - e) * ln(a / e)) over bins of proportions,
  a = current, e = reference. Empty bins are floored at PSI_EPSILON first (no
  renormalisation), the usual convention, so one new bin does not make PSI infinite.
- Jensen-Shannon distance: sqrt of the JS divergence in base 2, so it lies in 0..1.
- Robust z-score (Iglewicz and Hoaglin's modified z): 0.6745 * (x - median) / MAD.
  When MAD is 0 (more than half the values equal) the scale falls back to
  1.253314 * mean absolute deviation; when that is 0 too (all values equal) any other value
  is infinitely far (z = +-inf) and the same value is z = 0.
- p95: numpy's default (linear interpolation between closest ranks).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

PSI_EPSILON = 1e-4
MAD_CONSISTENCY = 0.6745  # makes MAD-based z comparable to a normal z-score
MEAN_AD_CONSISTENCY = 1.253314  # sqrt(pi / 2), the fallback scale when MAD is 0


def proportions(counts: Sequence[float]) -> np.ndarray:
    """Counts -> proportions summing to 1; raises on negative counts or an empty total."""
    arr = np.asarray(counts, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("counts must be a non-empty list of numbers")
    if (arr < 0).any():
        raise ValueError("counts must not be negative")
    total = arr.sum()
    if total <= 0:
        raise ValueError("counts must not all be zero")
    return arr / total


def aligned(current: Mapping[str, float], reference: Mapping[str, float]) -> tuple[list, list]:
    """Two category->value mappings as two lists over the union of their keys (missing = 0)."""
    keys = sorted(set(current) | set(reference), key=lambda k: (len(str(k)), str(k)))
    return [float(current.get(k, 0.0)) for k in keys], [float(reference.get(k, 0.0)) for k in keys]


def psi(current: Sequence[float], reference: Sequence[float], eps: float = PSI_EPSILON) -> float:
    """Population stability index of two count or proportion vectors over the same bins."""
    if len(current) != len(reference):
        raise ValueError(f"bins differ: {len(current)} current vs {len(reference)} reference")
    a = np.maximum(proportions(current), eps)
    e = np.maximum(proportions(reference), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(current: Sequence[float], reference: Sequence[float]) -> float:
    """Jensen-Shannon distance, base 2 (0 = identical, 1 = disjoint)."""
    if len(current) != len(reference):
        raise ValueError(f"bins differ: {len(current)} current vs {len(reference)} reference")
    p, q = proportions(current), proportions(reference)
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def robust_z(x: float, history: Sequence[float]) -> tuple[float, float, float]:
    """(z, median, scale) of `x` against `history` (see the module docstring)."""
    h = np.asarray(history, dtype=float)
    if h.size == 0:
        raise ValueError("history must not be empty")
    med = float(np.median(h))
    dev = np.abs(h - med)
    mad = float(np.median(dev))
    if mad > 0:
        return MAD_CONSISTENCY * (x - med) / mad, med, mad / MAD_CONSISTENCY
    mean_ad = float(np.mean(dev))
    if mean_ad > 0:
        scale = MEAN_AD_CONSISTENCY * mean_ad
        return (x - med) / scale, med, scale
    if x == med:
        return 0.0, med, 0.0
    return (math.inf if x > med else -math.inf), med, 0.0


def p95(values: Sequence[float]) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), 95))


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))
