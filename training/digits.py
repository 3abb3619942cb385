"""The reference data: scikit-learn's 8x8 digits (1,797 images, pixels 0..16, no download).

A fixed, seeded split keeps a reserved hold-out that generated *labelled* batches never
contain: `labelled_pool()` (about 80%, what the generator draws training batches from) and
`reserved_holdout()` (about 20%, for judging a model on digits it can never have seen).
`train` additionally evaluates on its own held-out split of each batch's curated data.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

SPLIT_SEED = 20240601
HOLDOUT_FRACTION = 0.2
N_FEATURES = 64
N_CLASSES = 10
MAX_PIXEL = 16


@lru_cache(maxsize=1)
def load() -> tuple[np.ndarray, np.ndarray]:
    """All digits: X as uint8 (n, 64), y as uint8 (n,)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.uint8), d.target.astype(np.uint8)


@lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray]:
    _, y = load()
    rng = np.random.default_rng(SPLIT_SEED)
    pool, hold = [], []
    for cls in range(N_CLASSES):  # stratified: every class keeps the same share
        idx = rng.permutation(np.flatnonzero(y == cls))
        cut = int(round(len(idx) * HOLDOUT_FRACTION))
        hold.append(idx[:cut])
        pool.append(idx[cut:])
    return np.sort(np.concatenate(pool)), np.sort(np.concatenate(hold))


def labelled_pool() -> tuple[np.ndarray, np.ndarray]:
    X, y = load()
    idx = _split()[0]
    return X[idx], y[idx]


def reserved_holdout() -> tuple[np.ndarray, np.ndarray]:
    X, y = load()
    idx = _split()[1]
    return X[idx], y[idx]


@lru_cache(maxsize=1)
def pixel_medians() -> tuple[int, ...]:
    """Per-pixel median of the labelled pool: what a missing pixel is imputed with."""
    X, _ = labelled_pool()
    return tuple(int(v) for v in np.median(X, axis=0).round())
