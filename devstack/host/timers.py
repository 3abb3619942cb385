"""Timer triggers: six-field NCRONTAB schedules (seconds first, `%SETTING%` resolved),
`run_on_startup`, and `past_due` when a tick was missed while the host was down. A run that
overran its next tick is followed by the first tick after it ends, as the real host does
(one run at a time; the next execution is scheduled when the current one completes). The
schedule status (last/next tick) is kept in the hub store, as the real host keeps it in
storage."""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter

from devstack.host.config import ConfigError, resolve
from devstack.host.durable.history import iso, now_utc, parse_iso
from devstack.host.index import FunctionSpec
from devstack.host.invoke import Invoker
from devstack.host.store import HubStore

log = logging.getLogger(__name__)
LATE = timedelta(seconds=1)  # a tick this late counts as missed


def parse_schedule(expr: str, where: str):
    """A validated croniter for a six-field NCRONTAB expression."""
    from croniter import croniter

    fields = expr.split()
    if len(fields) != 6:
        raise ConfigError(f"{where}: {expr!r} is not a six-field NCRONTAB expression "
                          "({second} {minute} {hour} {day} {month} {day-of-week})")
    if not croniter.is_valid(expr, second_at_beginning=True):
        raise ConfigError(f"{where}: {expr!r} is not a valid NCRONTAB expression")
    return expr


def next_tick(expr: str, after: datetime) -> datetime:
    from croniter import croniter

    return croniter(expr, after, second_at_beginning=True).get_next(datetime)


def timer_payload(past_due: bool, last: datetime | None, next_: datetime) -> str:
    return json.dumps({"Schedule": {"AdjustForDST": True}, "IsPastDue": past_due,
                       "ScheduleStatus": {"Last": iso(last) if last else None,
                                          "Next": iso(next_), "LastUpdated": iso(now_utc())}})


class TimerRunner:
    """One thread per timer function."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], store: HubStore,
                 invoker: Invoker):
        self.spec = spec
        self.expr = parse_schedule(resolve(spec.trigger["schedule"], env,
                                           f"timer {spec.name} schedule"),
                                   f"timer {spec.name}")
        self.store = store
        self.invoker = invoker
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"timer-{spec.name}",
                                        daemon=True)

    def describe(self) -> str:
        return f"{self.spec.name}: timerTrigger '{self.expr}'"

    def start(self) -> TimerRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _status_name(self) -> str:
        return f"timers/{self.spec.name}.json"

    def _loop(self) -> None:
        status = self.store.get_json(self._status_name()) or {}
        now = now_utc()
        scheduled = parse_iso(status["Next"]) if status.get("Next") else None
        last = parse_iso(status["Last"]) if status.get("Last") else None
        if scheduled is not None and scheduled < now - LATE:
            self._fire(scheduled, last, past_due=True)  # missed while the host was down
            last = scheduled
        elif self.spec.trigger.get("runOnStartup"):
            self._fire(now, last, past_due=False)
        due = next_tick(self.expr, now_utc())
        self._save(last, due)
        while not self._stop.wait(max(0.0, (due - now_utc()).total_seconds())):
            self._fire(due, last, past_due=now_utc() - due > LATE)
            last = due
            due = next_tick(self.expr, max(due, now_utc()))  # after an overrun: the next one
            self._save(last, due)

    def _save(self, last, next_) -> None:
        try:
            self.store.put_json(self._status_name(), {
                "Last": iso(last) if last else None, "Next": iso(next_),
                "LastUpdated": iso(now_utc())})
        except Exception:
            log.exception("timer %s: could not save its schedule status", self.spec.name)

    def _fire(self, scheduled: datetime, last, past_due: bool) -> None:
        nxt = next_tick(self.expr, scheduled)
        value = TimerRequestConverter.decode(
            meta.Datum(type="json", value=timer_payload(past_due, last, nxt)),
            trigger_metadata=None)
        self.runs += 1
        log.info("timer %s fired (past_due=%s)", self.spec.name, past_due)
        try:
            self.invoker(self.spec, value)
        except Exception:
            log.exception("timer function %s failed", self.spec.name)
