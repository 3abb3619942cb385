"""Did the run fail, time out or take too long?

run_slow: over CHECK_RUN_MAX_SECONDS is always slow; otherwise, once CHECK_MIN_HISTORY
successful runs of the same pipeline and kind exist, slower than their p95 times
CHECK_RUN_SLOW_FACTOR is slow. Only successful runs are judged for slowness (a failed run is
already reported, a timed-out one is run_timed_out).
"""
from __future__ import annotations

from shared.checks.findings import ALERT, INSUFFICIENT, OK, finding
from shared.checks.records import comparable_history, duration_seconds, pipeline_subject
from shared.checks.stats import p95


def run_failed(run: dict) -> list[dict]:
    status = run.get("status")
    subject = pipeline_subject(run)
    if status == "failed":
        err = run.get("error") or {}
        where = f" in {err['activity']}" if err.get("activity") else ""
        msg = f": {err['message']}" if err.get("message") else ""
        return [finding("run_failed", subject, ALERT,
                        f"run {run.get('batchId')} failed{where}{msg}"[:500],
                        {"batchId": run.get("batchId"), "error": err or None})]
    if status == "succeeded":
        return [finding("run_failed", subject, OK, f"run {run.get('batchId')} succeeded",
                        {"batchId": run.get("batchId")})]
    return []  # cancelled/running: says nothing about whether the pipeline works


def run_timed_out(run: dict) -> list[dict]:
    status = run.get("status")
    subject = pipeline_subject(run)
    if status == "timed_out":
        return [finding("run_timed_out", subject, ALERT,
                        f"run {run.get('batchId')} timed out after "
                        f"{duration_seconds(run) or 0:.0f} s",
                        {"batchId": run.get("batchId"), "durationSeconds": duration_seconds(run)})]
    if status in ("succeeded", "failed"):
        return [finding("run_timed_out", subject, OK, f"run {run.get('batchId')} finished in time",
                        {"batchId": run.get("batchId")})]
    return []


def run_slow(run: dict, history: list[dict], s) -> list[dict]:
    if run.get("status") != "succeeded":
        return []
    took = duration_seconds(run)
    if took is None:
        return []
    subject = pipeline_subject(run)
    ctx = {"batchId": run.get("batchId"), "durationSeconds": took,
           "maxSeconds": s.check_run_max_seconds, "factor": s.check_run_slow_factor}
    if took > s.check_run_max_seconds:
        return [finding("run_slow", subject, ALERT,
                        f"run took {took:.0f} s, over the maximum of "
                        f"{s.check_run_max_seconds:.0f} s", ctx)]
    past = [duration_seconds(h) for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded" and h.get("pipeline") == run.get("pipeline")]
    past = [d for d in past if d is not None]
    ctx["historyRuns"] = len(past)
    if len(past) < s.check_min_history:
        return [finding("run_slow", subject, INSUFFICIENT,
                        f"{len(past)} successful runs in history, {s.check_min_history} needed "
                        "for the p95 rule", ctx)]
    limit = p95(past) * s.check_run_slow_factor
    ctx.update(p95Seconds=p95(past), limitSeconds=limit)
    if took > limit:
        return [finding("run_slow", subject, ALERT,
                        f"run took {took:.0f} s, over p95 {p95(past):.0f} s x "
                        f"{s.check_run_slow_factor:g} = {limit:.0f} s", ctx)]
    return [finding("run_slow", subject, OK, f"run took {took:.0f} s (limit {limit:.0f} s)", ctx)]
