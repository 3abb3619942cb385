"""`run_watcher`: the singleton that follows every ADF run of the factory for the runs'
orchestrations. One fixed instance id (`contract.WATCHER_INSTANCE`), kept alive by a timer
like the freshness monitor. Each cycle is one `watch_runs` activity (one look at the
factory, changes handed to their owners as `run_changed` events: `shared.runs.watch`,
`starters.watch_and_hand_over`), a durable timer to the interval the activity asks
(WATCH_INTERVAL_SECONDS, longer while ARM's read budget is low) counted from when the look
began, so a long look (many runs ending together) does not push every later look back,
then continue-as-new carrying the window, the tracked runs and the changes not yet handed
over: the history holds one cycle at most.
With RUN_TRACKING=poll the activity answers `stop` and the watcher ends."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.orchestration import contract as c

MIN_GAP = timedelta(seconds=1)  # between looks, however long the last one took


def run_watcher(context):
    inp = context.get_input() or {}
    cycle = int(inp.get("cycle", 0))
    result = yield context.call_activity_with_retry(
        c.WATCH_RUNS, c.retry_options(inp.get("retry")),
        {"cycle": cycle, "since": inp.get("since"), "tracked": inp.get("tracked") or {},
         "pending": inp.get("pending") or []})
    if result.get("stop"):
        return {"stopped": True, "cycle": cycle}
    context.set_custom_status({"cycle": cycle, "lookedAt": result.get("lookedAt"),
                               "changes": result.get("changes", 0),
                               "tracked": len(result.get("tracked") or {}),
                               "error": result.get("error")})
    now = context.current_utc_datetime
    began = datetime.fromisoformat(result["lookedAt"]) if result.get("lookedAt") else now
    wake = max(now + MIN_GAP, min(now, began) + timedelta(seconds=result["intervalSeconds"]))
    yield context.create_timer(wake)
    context.continue_as_new({"cycle": cycle + 1, "retry": inp.get("retry"),
                             "since": result.get("since"), "tracked": result.get("tracked"),
                             "pending": result.get("pending") or []})
    return None
