"""Reading the run record the orchestrator stores (keys fixed by the contract, see
`contract`); an activity's output is found by its role in the feed's `Profile`."""
from __future__ import annotations

from datetime import UTC, datetime

from shared.checks.profile import DATA, DEFAULT, Profile

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


def output(run: dict, role: str, profile: Profile = DEFAULT) -> dict:
    """The output of the activity that plays `role` (`outputs.<activity>`), or {} when it did
    not run or reported nothing."""
    found = (run.get("outputs") or {}).get(profile.activity(role))
    return found if isinstance(found, dict) else {}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def metric_value(train: dict, name: str) -> float | None:
    """The model's `name` metric from a metrics output (see the module docstring)."""
    metrics = train.get("metrics")
    if isinstance(metrics, dict) and name in metrics:
        return _number(metrics[name])
    return _number(train.get(name))


def champion_value(train: dict, name: str) -> float | None:
    metrics = train.get("championMetrics")
    if isinstance(metrics, dict) and name in metrics:
        return _number(metrics[name])
    return _number(train.get("champion" + name[:1].upper() + name[1:]))


def comparable_history(run: dict, history: list[dict], window: int) -> list[dict]:
    """The last `window` other runs of the same kind, newest first as given."""
    same = [h for h in history
            if h.get("batchId") != run.get("batchId") and h.get("kind") == run.get("kind")]
    return same[:window]


def total_file_bytes(run: dict, profile: Profile = DEFAULT) -> float | None:
    files = run.get("files") or []
    sizes = [f.get("size") for f in files if f.get("size") is not None]
    if sizes:
        return float(sum(sizes))
    pre = output(run, DATA, profile)
    return float(pre["bytesIn"]) if pre.get("bytesIn") is not None else None


def pipeline_subject(run: dict) -> str:
    return f"pipeline:{run.get('pipeline') or 'unknown'}"


def dataset_subject(run: dict) -> str:
    return f"dataset:{run.get('kind') or 'unknown'}"
