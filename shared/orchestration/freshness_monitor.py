"""`freshness_monitor`: the singleton that watches freshness (data, model, predictions,
stuck runs, and ADF runs in Log Analytics). One fixed instance id; each cycle checks once,
sleeps on a durable timer and continues as new, so its history never grows."""
from __future__ import annotations

from datetime import timedelta

MONITOR_INSTANCE = "freshness-monitor"


def freshness_monitor(context):
    from shared.orchestration.pipeline_run import _retry

    cycle = int((context.get_input() or {}).get("cycle", 0))
    result = yield context.call_activity_with_retry("check_freshness", _retry(), {"cycle": cycle})
    context.set_custom_status({"cycle": cycle, "findings": result.get("findings"),
                               "firing": result.get("firing")})
    wake = context.current_utc_datetime + timedelta(seconds=result["intervalSeconds"])
    yield context.create_timer(wake)
    context.continue_as_new({"cycle": cycle + 1})
    return None
