"""Statistics the checks are built on, each small enough to verify by hand.

- PSI (population stability index): sum((a - e) * ln(a / e)) over bins of proportions,
  a = current, e = reference. Empty bins are floored at PSI_EPSILON first (no
  renormalisation), the usual convention, so one new bin does not make PSI infinite.
- Jensen-Shannon distance: sqrt of the JS divergence in base 2, so it lies in 0..1.
- Chi-square tests (Pearson, scipy's distributions): `chi2_two_sample` compares two count
  vectors over the same ordered bins (a 2 x k contingency table: is the batch drawn from the
  population the reference was drawn from, the reference's own sampling noise included);
  `chi2_goodness_of_fit` compares counts with proportions known exactly. Adjacent bins are
  merged first until every merged bin expects at least MIN_EXPECTED counts in each sample
  (the expectation uses the pooled column totals, or the known proportions: never the batch
  alone, so merging does not bias the test); with fewer than two bins left there is nothing
  to test (p = 1, df = 0).
- Holm's step-down adjustment: adjusted p-values whose rejections at alpha keep the
  family-wise error rate at alpha under any dependence between the tests.
- Log-t score (file size, row count): t = (ln(1+x) - mean) / (sd * sqrt(1 + 1/n)) over the
  n history values' ln(1+v); under i.i.d. log-normal sizes it is exactly Student-t with n-1
  degrees of freedom (a prediction interval), so its p-value is calibrated at any n >= 2.
  A constant history puts any other value infinitely far (t = +-inf) and the same value at 0.
- p95: numpy's default (linear interpolation between closest ranks).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

PSI_EPSILON = 1e-4
MIN_EXPECTED = 5.0  # Cochran's rule: the chi-square tail is trustworthy from here on


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


def p95(values: Sequence[float]) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), 95))


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


class ChiSquare(NamedTuple):
    statistic: float
    df: int
    p: float
    current: list[float]  # the merged bins the test compared
    reference: list[float]


def merge_groups(weights: Sequence[float], scale: float,
                 min_expected: float = MIN_EXPECTED) -> list[list[int]]:
    """Adjacent bin indices grouped so that every group's expected count, scale x its summed
    weight, reaches min_expected; a short last group joins the one before it."""
    groups: list[list[int]] = []
    current: list[int] = []
    mass = 0.0
    for i, w in enumerate(weights):
        current.append(i)
        mass += float(w)
        if mass * scale >= min_expected:
            groups.append(current)
            current, mass = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def _merge(values: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    return np.array([values[g].sum() for g in groups], dtype=float)


def _counts(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or (arr < 0).any() or arr.sum() <= 0:
        raise ValueError(f"{what} must be non-negative counts with a positive total")
    return arr


def chi2_two_sample(current: Sequence[float], reference: Sequence[float],
                    min_expected: float = MIN_EXPECTED) -> ChiSquare:
    """Pearson chi-square test of homogeneity of two count vectors over the same bins."""
    if len(current) != len(reference):
        raise ValueError(f"bins differ: {len(current)} current vs {len(reference)} reference")
    cur, ref = _counts(current, "current"), _counts(reference, "reference")
    n_cur, n_ref = cur.sum(), ref.sum()
    total = cur + ref
    groups = merge_groups(total, min(n_cur, n_ref) / (n_cur + n_ref), min_expected)
    c, r = _merge(cur, groups), _merge(ref, groups)
    if len(groups) < 2:
        return ChiSquare(0.0, 0, 1.0, c.tolist(), r.tolist())
    from scipy.stats import chi2_contingency

    res = chi2_contingency(np.vstack([c, r]), correction=False)
    return ChiSquare(float(res.statistic), int(res.dof), float(res.pvalue), c.tolist(), r.tolist())


def chi2_goodness_of_fit(current: Sequence[float], proportions_: Sequence[float],
                         min_expected: float = MIN_EXPECTED) -> ChiSquare:
    """Pearson chi-square test of counts against proportions taken as exact."""
    if len(current) != len(proportions_):
        raise ValueError(f"bins differ: {len(current)} current vs {len(proportions_)} reference")
    cur = _counts(current, "current")
    p = proportions(proportions_)
    n = cur.sum()
    groups = merge_groups(p, n, min_expected)
    c, e = _merge(cur, groups), _merge(p, groups) * n
    if len(groups) < 2:
        return ChiSquare(0.0, 0, 1.0, c.tolist(), e.tolist())
    from scipy.stats import chisquare

    res = chisquare(c, e)
    return ChiSquare(float(res.statistic), len(groups) - 1, float(res.pvalue), c.tolist(),
                     e.tolist())


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values: the i-th smallest of m is max over j <= i of (m - j) p_(j),
    capped at 1. Rejecting where adjusted <= alpha holds the family-wise error at alpha."""
    order = sorted(pvalues, key=lambda k: pvalues[k])
    m = len(order)
    out: dict[str, float] = {}
    running = 0.0
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[key]))
        out[key] = running
    return out


def log_t(x: float, history: Sequence[float]) -> tuple[float, float, float]:
    """(t, centre, scale) of x against history on the ln(1+v) scale (module docstring).
    `centre` is back on the original scale (the geometric centre); `scale` is the prediction
    standard error on the log scale."""
    h = np.log1p(np.asarray(history, dtype=float))
    if h.size < 2:
        raise ValueError("history needs at least two values")
    mean = float(h.mean())
    # all equal: exactly 0 (the mean of equal floats can differ from them in the last bit)
    se = float(h.std(ddof=1)) * math.sqrt(1 + 1 / h.size) if h.min() < h.max() else 0.0
    lx = math.log1p(x)
    centre = math.expm1(mean)
    if se > 0:
        return (lx - mean) / se, centre, se
    if lx == h[0]:
        return 0.0, centre, 0.0
    return (math.inf if lx > h[0] else -math.inf), centre, 0.0


def t_two_sided_p(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student-t with df degrees of freedom."""
    from scipy.stats import t as student_t

    return float(min(1.0, 2 * student_t.sf(abs(t), df)))


def t_limit(alpha: float, df: int) -> float:
    """|t| beyond which a two-sided test at alpha rejects."""
    from scipy.stats import t as student_t

    return float(student_t.isf(alpha / 2, df))
