"""The finding: what one check concluded about one (kind, subject).

`status` is "ok", "warning", "alert" or "insufficient-history". Warnings and alerts both
fire (a warning at a lower severity); "insufficient-history" never fires and never resolves
an open alert: the alert manager ignores it.

Subjects: `pipeline:<name>` (run checks), `model` (metric regression, model staleness),
`predictions` (prediction drift and staleness), `dataset:<kind>` (data checks and data
staleness; `dataset` when staleness is given for all kinds at once), `run:<batchId>` (stuck
runs), `adf-pipeline:<name>` (runs this app did not start, from Log Analytics),
`contract:<role>` (an output that breaks the contract, see `contract`).
"""
from __future__ import annotations

import math

OK, WARNING, ALERT, INSUFFICIENT = "ok", "warning", "alert", "insufficient-history"
SEVERITIES = ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")  # Sev0 is the most severe

# Severity of a firing finding by kind and status; a kind without a "warning" entry never
# warns. Documented defaults; Sev1 = the pipeline itself is broken.
SEVERITY = {
    "run_failed": {ALERT: "Sev1"},
    "run_timed_out": {ALERT: "Sev1"},
    "run_slow": {ALERT: "Sev3"},
    "run_stuck": {ALERT: "Sev1"},
    "metric_regression": {WARNING: "Sev3", ALERT: "Sev2"},
    "prediction_drift": {WARNING: "Sev3", ALERT: "Sev2"},
    "feature_drift": {WARNING: "Sev3", ALERT: "Sev3"},
    "dataset_drift": {ALERT: "Sev2"},
    "file_size_anomaly": {ALERT: "Sev3"},
    "row_count_anomaly": {ALERT: "Sev3"},
    "rejected_rows": {ALERT: "Sev2"},
    "contract": {ALERT: "Sev2"},  # an output the checks cannot read: judgement is blind
    "data_stale": {ALERT: "Sev2"},
    "model_stale": {ALERT: "Sev3"},
    "predictions_stale": {ALERT: "Sev2"},
    "external_run_failed": {ALERT: "Sev2"},
    "external_run_slow": {ALERT: "Sev3"},
}
QUIET_SEVERITY = "Sev4"  # what an ok / insufficient finding carries (it notifies nothing)


def _clean(value):
    """JSON-safe numbers: round floats, turn inf/nan into strings."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def finding(kind: str, subject: str, status: str, summary: str, context: dict | None = None,
            severity: str | None = None) -> dict:
    """Build a finding; severity defaults from SEVERITY for firing statuses."""
    if status not in (OK, WARNING, ALERT, INSUFFICIENT):
        raise ValueError(f"unknown status {status!r}")
    firing = status in (WARNING, ALERT)
    if severity is None:
        severity = SEVERITY.get(kind, {}).get(status, "Sev3") if firing else QUIET_SEVERITY
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    return {
        "kind": kind,
        "subject": subject,
        "severity": severity,
        "firing": firing,
        "status": status,
        "summary": summary,
        "context": _clean(context or {}),
    }


def band(value: float, warning: float | None, alert: float) -> str:
    """ok / warning / alert for a value against ascending thresholds (>= is in the band)."""
    if value >= alert:
        return ALERT
    if warning is not None and value >= warning:
        return WARNING
    return OK


def worst(*statuses: str) -> str:
    order = (OK, WARNING, ALERT)
    return max(statuses, key=order.index)
