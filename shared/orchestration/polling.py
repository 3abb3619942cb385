"""Pure decisions for following an ADF run: poll backoff, how long to wait, stage timings."""
from __future__ import annotations


def next_poll_interval(changed: bool, current: float, base: float, maximum: float) -> float:
    """Poll at `base` while things move; double up to `maximum` while nothing changes."""
    return base if changed else min(maximum, max(base, current * 2))


def wait_seconds(plan: dict, interval: float, slowdown: float | None) -> float:
    """How long a run waits before it looks for itself: the safety net while the watcher
    follows it, else the backed-off poll interval; longer while ARM's budget is low."""
    base = plan["safetyNetSeconds"] if plan.get("tracking") == "watcher" else interval
    return base * max(1.0, float(slowdown or 1.0))


def stages(activities: list[dict]) -> list[dict]:
    """Per-activity stage timings, in the order the activities started."""
    ordered = sorted(activities, key=lambda a: a.get("start") or "~")
    return [{"name": a.get("name"), "status": a.get("status"), "start": a.get("start"),
             "end": a.get("end"), "durationSeconds": a.get("durationSeconds")}
            for a in ordered]
