"""Judge one finished run against its history: every check, one finding per (kind, subject)."""
from __future__ import annotations

from shared.checks.data_checks import file_size_anomaly, rejected_rows, row_count_anomaly
from shared.checks.drift import feature_drift, prediction_drift
from shared.checks.findings import OK, finding
from shared.checks.model_checks import metric_regression
from shared.checks.records import TERMINAL
from shared.checks.run_checks import run_failed, run_slow, run_timed_out


def evaluate_run(run: dict, history: list[dict], reference: dict | None, settings) -> list[dict]:
    """Findings for `run` (a finished run record). `history`: earlier run records of the same
    kind, newest first. `reference`: the champion's reference.json or None. A run still in
    progress yields nothing."""
    s = settings
    if run.get("status") not in TERMINAL:
        return []
    history = list(history or [])
    out = [
        *run_failed(run),
        *run_timed_out(run),
        *run_slow(run, history, s),
        *metric_regression(run, history, s),
        *prediction_drift(run, history, reference, s),
        *feature_drift(run, history, reference, s),
        *file_size_anomaly(run, history, s),
        *row_count_anomaly(run, history, s),
        *rejected_rows(run, s),
    ]
    # The run is over, so it is not stuck: resolves a run_stuck alert the monitor raised.
    out.append(finding("run_stuck", f"run:{run.get('batchId')}", OK,
                       f"run {run.get('batchId')} finished ({run.get('status')})",
                       {"batchId": run.get("batchId")}))
    return out
