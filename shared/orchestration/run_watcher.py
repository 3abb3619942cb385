"""`run_watcher`: the singleton that follows every ADF run of the factory for the runs'
orchestrations. One fixed instance id (`contract.WATCHER_INSTANCE`), kept alive by a timer
like the freshness monitor. Each cycle is one `watch_runs` activity (one look at the
factory, changes handed to their owners as `run_changed` events: `shared.runs.watch`,
`starters.watch_and_hand_over`), a durable timer for the interval the activity asks
(WATCH_INTERVAL_SECONDS, longer while ARM's read budget is low), then continue-as-new
carrying the window, the tracked runs and the changes not yet handed over: the
history holds one cycle at most.
With RUN_TRACKING=poll the activity answers `stop` and the watcher ends."""
from __future__ import annotations

from datetime import timedelta

from shared.orchestration import contract as c


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
    wake = context.current_utc_datetime + timedelta(seconds=result["intervalSeconds"])
    yield context.create_timer(wake)
    context.continue_as_new({"cycle": cycle + 1, "retry": inp.get("retry"),
                             "since": result.get("since"), "tracked": result.get("tracked"),
                             "pending": result.get("pending") or []})
    return None
