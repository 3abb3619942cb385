"""The diabetes model: ridge regression on standardised features, kept as JSON (the
coefficients, the scaler and the parameters; no pickle to trust), and its metrics.

scikit-learn fits it; predicting is one line of numpy, so scoring needs no scikit-learn."""
from __future__ import annotations

import numpy as np


def fit(X: np.ndarray, y: np.ndarray, alpha: float) -> dict:
    from sklearn.linear_model import Ridge

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    ridge = Ridge(alpha=alpha).fit((X - mean) / scale, y)
    return {"kind": "ridge", "alpha": alpha, "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": ridge.coef_.tolist(), "intercept": float(ridge.intercept_)}


def predict(model: dict, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return ((X - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(
        model["coef"]) + model["intercept"]


def metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    """rmse (the primary metric, lower is better), mae and r2 on held-out rows."""
    err = np.asarray(pred, dtype=float) - np.asarray(y, dtype=float)
    ss_tot = float(((y - np.mean(y)) ** 2).sum())
    return {"rmse": round(float(np.sqrt(np.mean(err ** 2))), 6),
            "mae": round(float(np.mean(np.abs(err))), 6),
            "r2": round(1.0 - float((err ** 2).sum()) / ss_tot, 6) if ss_tot > 0 else 0.0}
