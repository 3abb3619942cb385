"""What a finding measured, read from what it carries: the value, the bounds it was judged
against, the p-value and the level. Nothing is recomputed here: every number comes from the
finding's `context` (see `shared.checks`), so a plot or a table shows what the check saw.

`measure(finding)` -> {"metric", "value", "low", "high", "pValue", "alpha", "level",
"severity"}: `low` / `high` are the bounds of the usual or allowed range (None when the check
has no bound on that side); `level` is the finding's status (ok, warning, alert,
insufficient-history). Non-finite or missing numbers are None.
"""
from __future__ import annotations

import math


def num(value) -> float | None:
    """A finite float, else None (findings carry "inf"/"nan" as strings)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _lowest(*values) -> float | None:
    present = [v for v in map(num, values) if v is not None]
    return min(present) if present else None


def _regression_floor(ctx: dict) -> float | None:
    """The accuracy under which the run counts as a regression: the champion's and the
    recent median's accuracy, less the tolerance (the higher of the two bars)."""
    tol = num(ctx.get("tolerance")) or 0.0
    bars = [v - tol for v in (num(ctx.get("championAccuracy")), num(ctx.get("medianAccuracy")))
            if v is not None]
    return max(bars) if bars else None


def _range(ctx: dict) -> tuple[float | None, float | None]:
    usual = ctx.get("usualRange")
    if isinstance(usual, list) and len(usual) == 2:
        return num(usual[0]), num(usual[1])
    return None, None


# kind -> (metric name, value key, low(ctx), high(ctx)); pValue/alpha are read for every kind.
_MEASURES = {
    "run_timed_out": ("durationSeconds", "durationSeconds", None, None),
    "run_slow": ("durationSeconds", "durationSeconds", None,
                 lambda c: _lowest(c.get("limitSeconds"), c.get("maxSeconds"))),
    "metric_regression": ("accuracy", "accuracy", _regression_floor, None),
    "prediction_drift": ("psi", "psi", None, lambda c: num(c.get("psiAlert"))),
    "feature_drift": ("largestDriftedPsi", "largestDriftedPsi", None,
                      lambda c: num(c.get("psiAlert"))),
    "dataset_drift": ("driftedShare", "driftedShare", None,
                      lambda c: num(c.get("shareThreshold"))),
    "file_size_anomaly": ("bytes", "value", lambda c: _range(c)[0], lambda c: _range(c)[1]),
    "row_count_anomaly": ("rows", "value", lambda c: _range(c)[0], lambda c: _range(c)[1]),
    "rejected_rows": ("rejectedRate", "rate", None, lambda c: num(c.get("maxRate"))),
    "data_stale": ("ageSeconds", "ageSeconds", None, lambda c: num(c.get("maxAgeSeconds"))),
    "model_stale": ("ageSeconds", "ageSeconds", None, lambda c: num(c.get("maxAgeSeconds"))),
    "predictions_stale": ("ageSeconds", "ageSeconds", None,
                          lambda c: num(c.get("maxAgeSeconds"))),
    "run_stuck": ("runningSeconds", "runningSeconds", None,
                  lambda c: num(c.get("stuckAfterSeconds"))),
}


def measure(finding: dict) -> dict:
    ctx = finding.get("context") or {}
    metric, key, low, high = _MEASURES.get(finding.get("kind"), (None, None, None, None))
    return {
        "metric": metric,
        "value": num(ctx.get(key)) if key else None,
        "low": low(ctx) if low else None,
        "high": high(ctx) if high else None,
        "pValue": num(ctx.get("pValue")),
        "alpha": num(ctx.get("alpha")),
        "level": finding.get("status"),
        "severity": finding.get("severity"),
    }
