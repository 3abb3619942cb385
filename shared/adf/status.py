"""Pure mapping of a Data Factory pipeline run and its activity runs to the app's small
status vocabulary. Input is REST-shaped JSON (camelCase, as the SDK models serialize);
output is plain JSON-serialisable data (it crosses Durable activity boundaries).
"""
from __future__ import annotations

import json
import re

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLING, CANCELLED = (
    "queued", "running", "succeeded", "failed", "cancelling", "cancelled",
)
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED})
FAILURE_STATUSES = frozenset({FAILED, CANCELLED})

_RUN_STATUS = {
    "queued": QUEUED, "inprogress": RUNNING, "succeeded": SUCCEEDED, "failed": FAILED,
    "canceling": CANCELLING, "cancelling": CANCELLING, "cancelled": CANCELLED,
    "canceled": CANCELLED,
}
_ACTIVITY_STATUS = {**_RUN_STATUS, "skipped": "skipped"}
# What Data Factory adds to a Web activity's output besides the response body.
_WEB_OUTPUT_NOISE = frozenset({"ADFWebActivityResponseHeaders", "effectiveIntegrationRuntime",
                               "executionDuration", "durationInQueue", "billingReference"})
_TARGET = re.compile(r"Operation on target (.+?) failed:\s*(.*)", re.S)


def map_run_status(adf_status: str | None) -> str:
    """ADF's pipeline run status -> ours. Unknown values count as running (not terminal),
    so a new ADF status never ends a run early."""
    return _RUN_STATUS.get(str(adf_status or "").lower(), RUNNING)


def _seconds(ms) -> float | None:
    return None if ms is None else round(ms / 1000.0, 3)


def _latest_attempts(activity_runs: list[dict]) -> list[dict]:
    """One entry per activity: its last try (retries are separate activity runs)."""
    ordered = sorted(activity_runs, key=lambda a: str(a.get("activityRunStart") or ""))
    latest: dict[str, dict] = {}
    tries: dict[str, int] = {}
    for a in ordered:
        name = a.get("activityName")
        latest[name] = a
        tries[name] = tries.get(name, 0) + 1
    return [{**a, "_tries": tries[a.get("activityName")]} for a in latest.values()]


def _error_message(error) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        return error.get("message") or None
    return str(error)


def summarize_run(run: dict, activity_runs: list[dict],
                  inherited_outputs: dict | None = None) -> dict:
    """The app's view of one run: see `AdfClient.run_status`."""
    status = map_run_status(run.get("status"))
    activities = []
    for a in _latest_attempts(activity_runs):
        activities.append({
            "name": a.get("activityName"),
            "type": a.get("activityType"),
            "status": _ACTIVITY_STATUS.get(str(a.get("status") or "").lower(), RUNNING),
            "start": a.get("activityRunStart"),
            "end": a.get("activityRunEnd"),
            "durationSeconds": _seconds(a.get("durationInMs")),
            "attempts": a["_tries"],
            "error": _error_message(a.get("error")),
        })
    outputs = dict(inherited_outputs or {})
    for a in _latest_attempts(activity_runs):
        out = a.get("output")
        if str(a.get("status")).lower() == "succeeded" and isinstance(out, dict):
            if isinstance(out.get("customOutput"), dict):
                outputs[a.get("activityName")] = out["customOutput"]
            elif a.get("activityType") == "WebActivity":  # the response body
                outputs[a.get("activityName")] = {k: v for k, v in out.items()
                                                  if k not in _WEB_OUTPUT_NOISE}
    error = _run_error(status, run, activities)
    return {
        "runId": run.get("runId"),
        "pipeline": run.get("pipelineName"),
        "status": status,
        "adfStatus": run.get("status"),
        "terminal": status in TERMINAL_STATUSES,
        "stage": _stage(status, activities, error),
        "activities": activities,
        "error": error,
        "outputs": outputs,
        "runStart": run.get("runStart"),
        "runEnd": run.get("runEnd"),
        "durationSeconds": _seconds(run.get("durationInMs")),
        "message": run.get("message") or None,
        "runGroupId": run.get("runGroupId"),
        "parameters": dict(run.get("parameters") or {}),
    }


def status_signature(status: dict) -> str:
    """What counts as 'something changed' between two looks at a run (the run watcher's
    and a polling run's): its status, its stage and each activity's status."""
    acts = [(a.get("name"), a.get("status")) for a in status.get("activities", [])]
    return json.dumps([status.get("status"), status.get("stage"), acts])


def _run_error(status: str, run: dict, activities: list[dict]) -> dict | None:
    if status != FAILED:
        return None
    message = run.get("message") or ""
    m = _TARGET.match(message)
    if m:
        return {"activity": m.group(1), "message": m.group(2).strip() or message}
    failed = sorted((a for a in activities if a["status"] == FAILED),
                    key=lambda a: str(a.get("end") or ""))
    if failed:
        return {"activity": failed[0]["name"], "message": failed[0]["error"] or message}
    return {"activity": None, "message": message or "pipeline run failed"}


def _stage(status: str, activities: list[dict], error: dict | None) -> str | None:
    if status == FAILED:
        return (error or {}).get("activity")
    if status in (RUNNING, CANCELLING, CANCELLED):
        running = [a for a in activities if a["status"] in (RUNNING, CANCELLING, CANCELLED)]
        pool = running or [a for a in activities if a["status"] != "skipped"]
        if pool:
            return max(pool, key=lambda a: str(a.get("start") or ""))["name"]
    return None
