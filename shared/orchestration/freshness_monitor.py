"""`freshness_monitor`: the singleton that watches freshness (data, model, predictions,
stuck runs, and ADF runs in Log Analytics). One fixed instance id; each cycle checks once
at the orchestration's own time (so a retried activity judges the same moment and sends
nothing twice), sleeps on a durable timer and continues as new: its history never grows."""
from __future__ import annotations

from datetime import timedelta

from shared.orchestration import contract as c


def freshness_monitor(context):
    inp = context.get_input() or {}
    cycle = int(inp.get("cycle", 0))
    result = yield context.call_activity_with_retry(
        c.CHECK_FRESHNESS, c.retry_options(inp.get("retry")),
        {"cycle": cycle, "at": context.current_utc_datetime.isoformat()})
    context.set_custom_status({"cycle": cycle, "findings": result.get("findings"),
                               "firing": result.get("firing")})
    wake = context.current_utc_datetime + timedelta(seconds=result["intervalSeconds"])
    yield context.create_timer(wake)
    context.continue_as_new({"cycle": cycle + 1, "retry": inp.get("retry")})
    return None
