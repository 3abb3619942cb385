"""The run summary: the small, bounded document the dashboard plots from.

    dashboard/summary.json   (STATE_CONTAINER)
    {"schema": 1, "updatedAt": ISO, "runs": [point, ...]}   oldest first

One `point` per batch (its latest run): ids, feed, kind, mode, status, times, stage durations,
files, bytes, rows, accuracy and champion decision, and the `measure` of each of the run's
findings (value, bounds, p-value, level) plus the alert notifications it made. At most
`MAX_PER_MODE` points are kept per mode (training runs and score-only runs age out
separately, so a flood of scoring never pushes the accuracy history out), so reading it
costs the same after ten runs or a million: the dashboard never reads run records to plot.

Kept up to date by `shared.reporting.record_finished_run` when a run finishes, as a
read-modify-write under an etag (`BlobState.update`). Upsert by batch id: a retried
activity or a rerun of the batch replaces its point, never adds a second one.
"""
from __future__ import annotations

from datetime import UTC, datetime

from shared.reporting.measures import measure, num
from shared.settings import DEFAULT_FEED

SUMMARY = "dashboard/summary.json"
SCHEMA = 1
MAX_PER_MODE = 100
STAGE_NAMES = ("Preprocess", "Train", "Score")  # the pipelines' activities, in order
_ERROR_CHARS = 300
_ENDPOINT_SCORE_STAGES = ("InvokeEndpoint", "WaitForJob")


def _outputs(record: dict, activity: str) -> dict:
    return (record.get("outputs") or {}).get(activity) or {}


def total_bytes(record: dict) -> float | None:
    sizes = [num(f.get("size")) for f in record.get("files") or [] if isinstance(f, dict)]
    sizes = [s for s in sizes if s is not None]
    if sizes:
        return float(sum(sizes))
    return num(_outputs(record, "Preprocess").get("bytesIn"))


def stage_seconds(record: dict) -> dict[str, float]:
    """{activity name: seconds} from the record's stages (the activities' own timings)."""
    out = {}
    for stage in record.get("stages") or record.get("activities") or []:
        seconds = num(stage.get("durationSeconds"))
        if stage.get("name") and seconds is not None:
            out[str(stage["name"])] = seconds
    # A batch endpoint run (score_batch_endpoint) scores by invoking the endpoint and
    # waiting for its job: together they are its Score stage.
    endpoint = [out[n] for n in _ENDPOINT_SCORE_STAGES if n in out]
    if "Score" not in out and endpoint:
        out["Score"] = round(sum(endpoint), 3)
    return out


def run_point(record: dict) -> dict:
    """The summary's view of one finished run record (pure; missing fields are None)."""
    pre, train, score = (_outputs(record, a) for a in STAGE_NAMES)
    error = record.get("error") or {}
    checks = {}
    for f in record.get("checks") or []:
        if isinstance(f, dict) and f.get("kind"):
            m = measure(f)
            ctx = f.get("context") or {}
            if f["kind"] == "prediction_drift":
                m.update(js=num(ctx.get("jsDistance")), jsAlert=num(ctx.get("jsAlert")))
            if f["kind"] == "run_slow":
                m.update(p95=num(ctx.get("p95Seconds")))
            checks[f["kind"]] = {k: v for k, v in m.items() if v is not None}
    return {
        "batchId": record.get("batchId"),
        "instanceId": record.get("instanceId"),
        "feed": record.get("feed") or DEFAULT_FEED,
        "kind": record.get("kind"),
        "mode": record.get("mode"),
        "pipeline": record.get("pipeline"),
        "status": record.get("status"),
        "startedAt": record.get("startedAt"),
        "finishedAt": record.get("finishedAt"),
        "durationSeconds": num(record.get("durationSeconds")),
        "files": len(record.get("files") or []),
        "bytes": total_bytes(record),
        "rowsIn": num(pre.get("rowsIn")),
        "rowsRejected": num(pre.get("rowsRejected")),
        "predictions": num(score.get("rows")),
        "stages": stage_seconds(record),
        "accuracy": num(train.get("accuracy")),
        "modelVersion": train.get("modelVersion") or score.get("modelVersion"),
        "decision": train.get("decision"),
        "promoted": train.get("promoted"),
        "error": ({"activity": error.get("activity"),
                   "message": str(error.get("message") or "")[:_ERROR_CHARS]}
                  if error else None),
        "checks": checks,
        "alerts": [{"id": a.get("id"), "kind": a.get("kind"), "subject": a.get("subject"),
                    "severity": a.get("severity"), "type": a.get("type"),
                    "delivery": a.get("delivery")}
                   for a in record.get("alerts") or [] if isinstance(a, dict)],
    }


def _order(point: dict) -> str:
    return str(point.get("finishedAt") or point.get("startedAt") or "")


def fold(summary: dict | None, point: dict, limit: int = MAX_PER_MODE) -> dict | None:
    """The summary with `point` in it (replacing the batch's earlier point), oldest first,
    at most `limit` points per mode. None when nothing would change (a retry)."""
    runs = list((summary or {}).get("runs") or [])
    if point in runs:
        return None
    runs = [p for p in runs if p.get("batchId") != point.get("batchId")] + [point]
    runs.sort(key=_order)
    kept, per_mode = [], {}
    for p in reversed(runs):  # newest first, so the newest of each mode are kept
        n = per_mode.get(p.get("mode"), 0)
        if n < limit:
            kept.append(p)
            per_mode[p.get("mode")] = n + 1
    kept.reverse()
    return {"schema": SCHEMA, "updatedAt": datetime.now(UTC).isoformat(), "runs": kept}


def update_summary(state, record: dict) -> dict:
    """Fold the finished run `record` into the summary blob (a `BlobState`)."""
    point = run_point(record)
    return state.update(SUMMARY, lambda current: fold(current, point)) or {}


def read_summary(state) -> dict:
    summary, _ = state.read_json(SUMMARY)
    return summary or {"schema": SCHEMA, "updatedAt": None, "runs": []}
