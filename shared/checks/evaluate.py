"""Judge one finished run against its history: every check, one finding per (kind, subject).

Every check reads outputs that meet the contract (`contract.conforming`): a malformed output
becomes a `contract` finding naming the file and the field, and the checks that would have
read it see it as not reported."""
from __future__ import annotations

from shared.checks.contract import conforming, conforming_history
from shared.checks.data_checks import file_size_anomaly, rejected_rows, row_count_anomaly
from shared.checks.drift import feature_drift, prediction_drift
from shared.checks.findings import OK, finding
from shared.checks.model_checks import metric_regression
from shared.checks.profile import DEFAULT, Profile
from shared.checks.records import TERMINAL
from shared.checks.run_checks import run_failed, run_slow, run_timed_out


def evaluate_run(run: dict, history: list[dict], reference: dict | None, settings,
                 profile: Profile = DEFAULT) -> list[dict]:
    """Findings for `run` (a finished run record). `history`: earlier run records of the same
    kind, newest first. `reference`: the champion's reference.json or None. `profile`: the
    feed's task, primary metric and output roles (default: the digits feed). A run still in
    progress yields nothing."""
    s, p = settings, profile
    if run.get("status") not in TERMINAL:
        return []
    run, reference, broken = conforming(run, reference, p)
    history = [conforming_history(h, p) for h in history or []]
    out = [
        *run_failed(run),
        *run_timed_out(run),
        *run_slow(run, history, s),
        *metric_regression(run, history, s, p),
        *prediction_drift(run, history, reference, s, p),
        *feature_drift(run, history, reference, s, p),
        *file_size_anomaly(run, history, s, p),
        *row_count_anomaly(run, history, s, p),
        *rejected_rows(run, s, p),
        *broken,
    ]
    # The run is over, so it is not stuck: resolves a run_stuck alert the monitor raised.
    out.append(finding("run_stuck", f"run:{run.get('batchId')}", OK,
                       f"run {run.get('batchId')} finished ({run.get('status')})",
                       {"batchId": run.get("batchId")}))
    return out
