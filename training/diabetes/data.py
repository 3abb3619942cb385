"""The diabetes data: the bundled dataset with a reserved hold-out, the raw CSV schema and
its per-row decision, and the histograms the contract asks for.

Raw rows are `id,age,sex,bmi,bp,s1,s2,s3,s4,s5,s6` plus `target` when labelled (columns by
name, extra ones ignored), in the dataset's original units (`load_diabetes(scaled=False)`).
A value outside its plausible range (`RANGES`, wider than the dataset's) or missing rejects
the row: unlike a pixel, a blood measurement is not imputed.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from training import schema
from training.schema import (
    MISSING,
    NON_NUMERIC,
    OUT_OF_RANGE,
    Layout,
    Reject,
    Row,
)

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
ID, TARGET = "id", "target"
RANGES = {"age": (0, 120), "sex": (1, 2), "bmi": (10, 70), "bp": (40, 250), "s1": (50, 500),
          "s2": (10, 400), "s3": (5, 200), "s4": (0.5, 20), "s5": (1, 10), "s6": (30, 400)}
TARGET_RANGE = (0, 500)
MISSING_VALUE, BAD_TARGET = "missing_value", "bad_target"
SPLIT_SEED, HOLDOUT_FRACTION = 20261126, 0.2
OPEN = 1e308  # the outer edges of open-ended bins (JSON has no infinity)


@lru_cache(maxsize=1)
def load() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    d = load_diabetes(scaled=False)
    return d.data.astype(np.float64), d.target.astype(np.float64)


@lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray]:
    n = len(load()[1])
    idx = np.random.default_rng(SPLIT_SEED).permutation(n)
    cut = int(round(n * HOLDOUT_FRACTION))
    return np.sort(idx[cut:]), np.sort(idx[:cut])


def labelled_pool() -> tuple[np.ndarray, np.ndarray]:
    """About 80% of the patients: what generated labelled batches draw from."""
    X, y = load()
    return X[_split()[0]], y[_split()[0]]


def reserved_holdout() -> tuple[np.ndarray, np.ndarray]:
    X, y = load()
    return X[_split()[1]], y[_split()[1]]


def quantile_edges(values: np.ndarray, bins: int = 10) -> list[float]:
    """Edges of up to `bins` bins holding about equal shares of `values`, open at both ends
    (repeated quantiles merge, so a two-valued feature gets three bins, one empty)."""
    inner = np.unique(np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, bins + 1)[1:-1]))
    return [-OPEN, *(round(float(e), 6) for e in inner), OPEN]


@lru_cache(maxsize=1)
def feature_edges() -> dict[str, list[float]]:
    """Fixed per-feature edges (deciles of the whole dataset): every batch and every
    reference bins a feature the same way, so their histograms compare bin by bin."""
    X, _ = load()
    return {f: quantile_edges(X[:, j]) for j, f in enumerate(FEATURES)}


def histogram(values: np.ndarray, edges: list[float]) -> list[int]:
    """Counts over [edges[i], edges[i+1])."""
    idx = np.searchsorted(np.asarray(edges[1:-1]), np.asarray(values, dtype=float), side="right")
    return np.bincount(idx, minlength=len(edges) - 1).astype(int).tolist()


def feature_stats(X: np.ndarray) -> dict:
    """The contract's `featureStats`: per feature its edges, counts, mean and std."""
    X = np.asarray(X, dtype=float).reshape(-1, len(FEATURES))
    out = {}
    for j, f in enumerate(FEATURES):
        col = X[:, j]
        out[f] = {"edges": feature_edges()[f], "counts": histogram(col, feature_edges()[f]),
                  "mean": round(float(col.mean()), 6) if len(col) else None,
                  "std": round(float(col.std()), 6) if len(col) else None}
    return {"features": out}


def layout_for(header: list[str], kind: str) -> Layout | Reject:
    return schema.layout_for(header, kind, FEATURES, TARGET)


def _number(text: str, name: str, low: float, high: float, missing: str) -> float | Reject:
    t = text.strip()
    if t.lower() in MISSING:
        return Reject(missing, f"{name} is missing")
    try:
        v = float(t)
    except ValueError:
        return Reject(NON_NUMERIC, f"{name}: {t[:20]!r} is not a number")
    if not low <= v <= high:  # NaN fails too
        return Reject(OUT_OF_RANGE if missing == MISSING_VALUE else BAD_TARGET,
                      f"{name}: {v:g} is outside {low:g}..{high:g}")
    return v


def check_row(fields: list[str], layout: Layout, _medians=None) -> Row | Reject:
    """Decide one data row; duplicate ids are the caller's business."""
    rid = schema.row_id(fields, layout)
    if isinstance(rid, Reject):
        return rid
    values = []
    for name, at in zip(FEATURES, layout.values_at, strict=True):
        v = _number(fields[at], name, *RANGES[name], MISSING_VALUE)
        if isinstance(v, Reject):
            return v
        values.append(v)
    label = None
    if layout.label_at is not None:
        label = _number(fields[layout.label_at], TARGET, *TARGET_RANGE, BAD_TARGET)
        if isinstance(label, Reject):
            return label
    return Row(rid, values, label)
