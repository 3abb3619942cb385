"""Freshness: is the newest data, model and prediction recent enough; is any run stuck?

facts = {
  "newestDataAt": ISO | None, or {"labelled": ISO | None, "unlabelled": ISO | None},
  "championPromotedAt": ISO | None,
  "newestPredictionsAt": ISO | None,
  "runsInProgress": [{"batchId", "startedAt", "pipeline"?}],
}
A missing key is not checked. A None time (nothing has ever arrived) is
"insufficient-history": a fresh deployment is not stale. Subjects: `dataset` (or
`dataset:<kind>` when per kind), `model`, `predictions`, `run:<batchId>`. A stuck run that
finished is resolved by evaluate_run (it reports run_stuck ok for its batch); one that
vanished is resolved by passing complete_kinds={"run_stuck"} to process_findings.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.checks.findings import ALERT, INSUFFICIENT, OK, finding
from shared.checks.records import parse_time


def _age(kind, subject, what, when, now, limit: timedelta) -> dict:
    at = parse_time(when)
    ctx = {"newestAt": at.isoformat() if at else None, "maxAgeSeconds": limit.total_seconds()}
    if at is None:
        return finding(kind, subject, INSUFFICIENT, f"no {what} seen yet", ctx)
    age = now - at
    ctx["ageSeconds"] = age.total_seconds()
    hours = age.total_seconds() / 3600
    if age > limit:
        return finding(kind, subject, ALERT,
                       f"newest {what} is {hours:.1f} h old (limit "
                       f"{limit.total_seconds() / 3600:g} h)", ctx)
    return finding(kind, subject, OK, f"newest {what} is {hours:.1f} h old", ctx)


def evaluate_freshness(facts: dict, now: datetime, settings) -> list[dict]:
    s = settings
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    out: list[dict] = []
    if "newestDataAt" in facts:
        data = facts["newestDataAt"]
        limit = timedelta(hours=s.freshness_data_max_age_hours)
        if isinstance(data, dict):
            for kind in sorted(data):
                out.append(_age("data_stale", f"dataset:{kind}", f"{kind} data", data[kind],
                                now, limit))
        else:
            out.append(_age("data_stale", "dataset", "raw data", data, now, limit))
    if "championPromotedAt" in facts:
        out.append(_age("model_stale", "model", "champion model", facts["championPromotedAt"],
                        now, timedelta(days=s.freshness_model_max_age_days)))
    if "newestPredictionsAt" in facts:
        out.append(_age("predictions_stale", "predictions", "predictions",
                        facts["newestPredictionsAt"], now,
                        timedelta(hours=s.freshness_predictions_max_age_hours)))
    for run in facts.get("runsInProgress") or []:
        started = parse_time(run.get("startedAt"))
        subject = f"run:{run.get('batchId')}"
        ctx = {"batchId": run.get("batchId"), "pipeline": run.get("pipeline"),
               "startedAt": started.isoformat() if started else None,
               "stuckAfterSeconds": s.freshness_run_stuck_seconds}
        if started is None:
            out.append(finding("run_stuck", subject, INSUFFICIENT, "run has no start time", ctx))
            continue
        took = (now - started).total_seconds()
        ctx["runningSeconds"] = took
        status = ALERT if took > s.freshness_run_stuck_seconds else OK
        out.append(finding("run_stuck", subject, status,
                           f"run {run.get('batchId')} has been running for {took / 60:.0f} min"
                           + (f" (limit {s.freshness_run_stuck_seconds / 60:.0f} min)"
                              if status == ALERT else ""), ctx))
    return out
