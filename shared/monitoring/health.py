"""Health: the report behind `GET /api/health/details` (settings, storage, Data Factory,
alert sinks, the Log Analytics query, when the run watcher last looked; each check gives
ok plus a detail, the report is ok only if all are) and the verdict behind anonymous `GET /api/health` (`{"ok": bool}`).

The report names hosts, the factory, setting values and upstream errors, and costs an ARM
call plus blob reads: it is for callers with a function key. Strangers get the verdict,
from a `HealthVerdict` per process: at most one real check per interval whatever the
request rate, so the anonymous route cannot be used to spend the ARM read quota that
polling needs, nor to learn anything but up or down."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from shared.errors import short

log = logging.getLogger(__name__)
VERDICT_TTL_SECONDS = 15.0
WATCHER_STALE_LOOKS = 10


def _probe(fn) -> dict:
    try:
        detail = fn()
        return {"ok": True, **({"detail": detail} if detail else {})}
    except Exception as exc:  # any failure to reach a dependency is the answer here
        return {"ok": False, "detail": short(exc, 200)}


def _section(fn) -> dict:
    """A check that reports its own ok; a failure to read it is a failed check, not a 500."""
    try:
        return fn()
    except Exception as exc:
        return {"ok": False, "detail": short(exc, 200)}


def check_health(services) -> dict:
    checks: dict[str, dict] = {"settings": {"ok": True}}
    # The state container, not the account: the app's roles are scoped to its containers,
    # and account information needs an account-wide role it does not have.
    checks["storage"] = _probe(lambda: services.state.container.get_container_properties())
    checks["dataFactory"] = _probe(lambda: services.adf.ping())
    if checks["storage"]["ok"]:
        from shared.alerts import sink_health
        from shared.monitoring.external_runs import logs_status

        checks["alertSinks"] = _section(lambda: sink_health(services, sinks=services.feeds.all_sinks()))
        checks["logAnalytics"] = _section(lambda: logs_status(services))
        checks["runWatcher"] = _section(lambda: watcher_status(services))
    return {"ok": all(c.get("ok") for c in checks.values()), "checks": checks}


def watcher_status(services, now: datetime | None = None) -> dict:
    """When the run watcher last looked at the factory (its heartbeat blob), and why its
    last look failed if it did (the failure keeps `lookedAt`). Not ok once
    it has not looked for WATCHER_STALE_LOOKS intervals (and 5 minutes): runs then finish
    only by their safety-net polls. Not yet looked, or RUN_TRACKING=poll: ok."""
    from shared.runs.watch import HEARTBEAT

    s = services.settings
    if s.run_tracking != "watcher":
        return {"ok": True, "detail": "RUN_TRACKING=poll: each run polls its own ADF run"}
    try:
        beat, _ = services.state.read_json(HEARTBEAT)
    except ValueError:
        beat = "not JSON"
    if beat is None:
        return {"ok": True, "detail": "the watcher has not looked yet"}
    if not isinstance(beat, dict):  # written by someone else: the next look rewrites it
        return {"ok": False, "detail": f"{HEARTBEAT} is not a watcher heartbeat"}
    if not beat.get("lookedAt"):  # no look has worked yet
        return {"ok": False, "lastError": beat.get("error"),
                "detail": f"the watcher's looks fail: {beat.get('error')}"}
    try:  # TypeError: not a string, a naive time, a slowdown that is not a number
        age = ((now or datetime.now(UTC)) - datetime.fromisoformat(beat["lookedAt"])
               ).total_seconds()
        limit = max(300.0, WATCHER_STALE_LOOKS * s.watch_interval_seconds
                    * float(beat.get("slowdown", 1)))
    except (TypeError, ValueError):
        return {"ok": False, "detail": f"{HEARTBEAT} is not a watcher heartbeat"}
    return {"ok": age <= limit, "lastLookedAt": beat["lookedAt"], "ageSeconds": round(age, 1),
            "slowdown": beat.get("slowdown"), "remainingReads": beat.get("remainingReads"),
            "failedReads": beat.get("failedReads"), "lastError": beat.get("error"),
            "detail": f"last looked {age:.0f}s ago" + ("" if age <= limit else
                                                       f"; stale (more than {limit:.0f}s)")}


def settings_failure(exc: Exception) -> dict:
    """The report when the settings themselves are invalid (nothing else can be checked)."""
    return {"ok": False, "checks": {"settings": {"ok": False, "detail": str(exc)}}}


def failing(report: dict) -> list[str]:
    """The names of the checks that are not ok (for a log line)."""
    return sorted(name for name, c in report.get("checks", {}).items() if not c.get("ok"))


class HealthVerdict:
    """The last health verdict, reused for `ttl` seconds after the check that made it.

    When it is stale, the first caller starts one check (in a thread: it blocks) and every
    caller that arrives meanwhile awaits that same check, so concurrent requests cost one
    check and hold no worker thread. A check that raises counts as not ok. `record` lets a
    fresh detailed report (keyed route) refresh the verdict too. One instance per process,
    used from one event loop."""

    def __init__(self, ttl: float = VERDICT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._last: tuple[float, bool] | None = None  # (checked at, ok): one assignment
        self._pending: asyncio.Task | None = None

    def record(self, ok: bool) -> None:
        self._last = (self.clock(), bool(ok))

    async def ok(self, check: Callable[[], bool]) -> bool:
        last = self._last
        if last is not None and self.clock() - last[0] < self.ttl:
            return last[1]
        pending = self._pending
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending = asyncio.ensure_future(self._refresh(check))
        # A caller that goes away must not cancel the check the others are waiting for.
        return await asyncio.shield(pending)

    async def _refresh(self, check: Callable[[], bool]) -> bool:
        try:
            ok = bool(await asyncio.to_thread(check))
        except Exception:  # a check that cannot finish is a "not ok", never a 500
            log.exception("health check failed")
            ok = False
        finally:
            self._pending = None
        self.record(ok)
        return ok
