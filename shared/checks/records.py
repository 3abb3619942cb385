"""Reading the run record the orchestrator stores (keys fixed by the training code)."""
from __future__ import annotations

from datetime import UTC, datetime

TERMINAL = ("succeeded", "failed", "timed_out", "cancelled")


def parse_time(value) -> datetime | None:
    """ISO-8601 (with Z or an offset; naive means UTC) -> aware datetime; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def duration_seconds(run: dict) -> float | None:
    if run.get("durationSeconds") is not None:
        return float(run["durationSeconds"])
    start, end = parse_time(run.get("startedAt")), parse_time(run.get("finishedAt"))
    if start and end:
        return (end - start).total_seconds()
    return None


def output(run: dict, activity: str) -> dict:
    """`outputs.<activity>` or {} when the activity did not run or reported nothing."""
    return (run.get("outputs") or {}).get(activity) or {}


def comparable_history(run: dict, history: list[dict], window: int) -> list[dict]:
    """The last `window` other runs of the same kind, newest first as given."""
    same = [h for h in history
            if h.get("batchId") != run.get("batchId") and h.get("kind") == run.get("kind")]
    return same[:window]


def total_file_bytes(run: dict) -> float | None:
    files = run.get("files") or []
    sizes = [f.get("size") for f in files if f.get("size") is not None]
    if sizes:
        return float(sum(sizes))
    pre = output(run, "Preprocess")
    return float(pre["bytesIn"]) if pre.get("bytesIn") is not None else None


def pipeline_subject(run: dict) -> str:
    return f"pipeline:{run.get('pipeline') or 'unknown'}"


def dataset_subject(run: dict) -> str:
    return f"dataset:{run.get('kind') or 'unknown'}"
