"""`batch_sealer`: turns a burst of BlobCreated events into a bounded number of batches.

One instance per kind and time window (instance id from `sealer_instance_id`), so every
event of a burst lands on the same sealer and duplicates collapse. It waits for the window
to close, claims the kind's ready files (chunked by MAX_BATCH_FILES), and runs each batch's
`pipeline_run` as a sub-orchestration with the batch id as instance id. Files not yet
settled get a few more looks; whatever is left, the hourly sweep picks up.
"""
from __future__ import annotations

from datetime import datetime, timedelta

MAX_LOOKS = 5


def sealer_instance_id(kind: str, at: datetime, window_seconds: float) -> str:
    """The sealer for the window containing `at` (pure, shared by all event handlers)."""
    window = max(1, int(window_seconds))
    start = int(at.timestamp()) // window * window
    return f"seal-{kind}-{start}"


def window_end(instance_id: str, window_seconds: float) -> datetime:
    from datetime import UTC

    start = int(instance_id.rsplit("-", 1)[1])
    return datetime.fromtimestamp(start + max(1, int(window_seconds)), UTC)


def batch_sealer(context):
    from shared.orchestration.pipeline_run import _retry

    inp = context.get_input()
    kind, quiet = inp["kind"], inp["quietSeconds"]
    fire_at = window_end(context.instance_id, inp["windowSeconds"])
    if fire_at > context.current_utc_datetime:
        yield context.create_timer(fire_at)
    batches: list[dict] = []
    statuses: list = []
    for look in range(MAX_LOOKS):
        sealed = yield context.call_activity_with_retry(
            "seal_batches", _retry(), {"kind": kind, "reason": f"events ({context.instance_id})"})
        # Run what this look sealed now: a sealed batch never waits for later looks (and so
        # is never old enough for the sweep to rescue it from under us).
        runs = [context.call_sub_orchestrator("pipeline_run", {"batch": b}, b["batchId"])
                for b in sealed["batches"]]
        if runs:
            results = yield context.task_all(runs)
            statuses += [r.get("status") if isinstance(r, dict) else None for r in results]
        batches += sealed["batches"]
        if not sealed["unsettled"] or look == MAX_LOOKS - 1:
            break
        wait = timedelta(seconds=max(1.0, quiet))
        yield context.create_timer(context.current_utc_datetime + wait)
    return {"batches": [b["batchId"] for b in batches], "statuses": statuses}
