"""`batch_sealer`: turns a burst of BlobCreated events into a bounded number of batches.

One instance per feed, kind and time window (`contract.sealer_instance_id`), so every event of a
burst lands on the same sealer and duplicates collapse. It waits for the window to close,
claims the kind's ready files (chunked by MAX_BATCH_FILES) and starts each batch's
`pipeline_run` (instance id = batch id) without waiting for it: files still settling get
another look one quiet period later, whatever the runs already started are doing. After
MAX_LOOKS, whatever is left the hourly sweep picks up.

Sealing and starting are two activities, so a retried start finds the sealed batches in
the history instead of claiming again (which would find nothing and strand them until the
sweep rescues them).
"""
from __future__ import annotations

from datetime import timedelta

from shared.orchestration import contract as c

MAX_LOOKS = 5


def batch_sealer(context):
    inp = context.get_input()
    retry = c.retry_options(inp.get("retry"))
    fire_at = c.sealer_window_end(context.instance_id, inp["windowSeconds"])
    if fire_at > context.current_utc_datetime:
        yield context.create_timer(fire_at)
    batches: list[str] = []
    for look in range(MAX_LOOKS):
        sealed = yield context.call_activity_with_retry(
            c.SEAL_BATCHES, retry, {"kind": inp["kind"], **({"feed": inp["feed"]} if inp.get(
                "feed") else {}), "reason": f"events ({context.instance_id})"})
        if sealed["batches"]:
            yield context.call_activity_with_retry(
                c.START_RUNS, retry, {"batches": sealed["batches"]})
            batches += [b["batchId"] for b in sealed["batches"]]
        if not sealed["unsettled"] or look == MAX_LOOKS - 1:
            break
        wait = timedelta(seconds=max(1.0, inp["quietSeconds"]))
        yield context.create_timer(context.current_utc_datetime + wait)
    return {"batches": batches, "looks": look + 1}
