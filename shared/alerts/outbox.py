"""Delivery of notifications to the sinks: at least once, retried until done or given up,
and visible while it is not done.

    deliver(services, notes)           when notes are made: a first try at once, bounded by
                                       ALERT_DELIVERY_ATTEMPTS and ALERT_DELIVERY_BUDGET_SECONDS
    retry_deliveries(services, now)    every freshness-monitor cycle: what is still owed
    delivery_states(services, ids)     {notification id: {sink id: state}} (GET /api/alerts)
    sink_health(services)              per sink, for /api/health

How (storage layout in `shared.alerts.store`, decisions in `shared.alerts.delivery_state`):
1. Before anything is sent, the note goes into the outbox and its delivery record is made
   with every configured sink `retrying` (both create-if-absent, so a retried caller finds
   them, and a caller that dies after this point loses nothing: the next cycle delivers).
2. A deliverer takes the sink's lease in the record (one conditional write: of two
   concurrent deliverers one wins), sends, and records delivered / retrying (next try
   scheduled) / gave_up (past ALERT_DELIVERY_GIVE_UP_SECONDS). A delivered sink is never
   sent the notification again. Per alert and sink, notifications go out in order.
3. `deliver` tries its new notes (all tries for the first; one each once the sink has failed
   in the call); a sink that took one of them is evidently back and gets its backlog too.
   `retry_deliveries` tries each due notification once per sink, oldest first, and stops at
   a sink's first failure, so a dead sink costs one request per cycle.
4. The outbox entry goes when every sink has the notification. One with a given-up sink
   stays for one more give-up period, keeping that sink unhealthy so someone notices; the
   record stays for good (GET /api/alerts shows `gave_up`).

At least once, not exactly once: a deliverer that dies between a receiver's 2xx and its
write leaves a lease that expires, and the notification is sent again with the same
X-Glue-Notification-Id, by which receivers drop duplicates.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.alerts import delivery_state as ds
from shared.alerts.sinks import Result, Sink, configured_sinks, render, send
from shared.alerts.store import (
    PREFIX,
    delivery_name,
    outbox_name,
    sink_health_name,
)

log = logging.getLogger(__name__)

OUTBOX = f"{PREFIX}outbox/"
LEASE_MARGIN_SECONDS = 60.0  # a lease outlives the longest send by this much


def lease_seconds(settings) -> float:
    return (settings.alert_delivery_budget_seconds + settings.alert_delivery_timeout_seconds
            + LEASE_MARGIN_SECONDS)


@dataclass
class _Pass:
    """One delivery call: its services, clocks, lease owner and deadline."""
    services: object
    start: datetime
    sleep: object
    clock: object
    wall: object
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self):
        self.settings = self.services.settings
        self.state = self.services.state
        self.t0 = self.clock()
        self.deadline = self.t0 + self.settings.alert_delivery_budget_seconds
        self._backlog: list[dict] | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.clock() - self.t0)

    def backlog(self) -> list[dict]:
        """The outbox's notes, oldest first, read once per call."""
        with self._lock:
            if self._backlog is None:
                self._backlog = [e["notification"] for e in _outbox(self.state)]
            return self._backlog


def _order(note: dict) -> tuple:
    return (note["alert"].get("lastNotifiedAt") or "", ds.sequence(note["id"])[1])


def _outbox(state) -> list[dict]:
    entries = []
    for props in state.list(OUTBOX):
        entry, _ = state.read_json(props.name)
        if entry and entry.get("notification"):
            entries.append(entry)
    return sorted(entries, key=lambda e: _order(e["notification"]))


def _open(state, note: dict, sink_ids: list[str], now: datetime) -> dict:
    """Outbox entry and delivery record for `note` (each made once); the record."""
    name = delivery_name(note["id"])
    record, _ = state.read_json(name)
    if record is not None and ds.finished(record):
        return record  # a retried caller: it has been delivered (or given up)
    state.create(outbox_name(note["id"]), {"notification": note, "createdAt": now.isoformat()})
    if record is not None:
        return record
    return state.update(name, lambda cur: None if cur else ds.new_record(note, sink_ids, now))


def _try(p: _Pass, session, sink: Sink, note: dict, tries: int, stopped: bool, eager: bool
         ) -> tuple[str, Result | None, bool]:
    """One notification to one sink, if it is due: (outcome, what was sent or None, whether
    it was given up just now)."""
    s = p.settings
    name = delivery_name(note["id"])
    record, _ = p.state.read_json(name)
    entry = ((record or {}).get("sinks") or {}).get(sink.id)
    if entry is None:
        return "not a sink of this notification", None, False
    if entry["state"] == ds.DELIVERED:
        return "already delivered", None, False
    if entry["state"] == ds.GAVE_UP:
        return f"gave up: {entry.get('lastError')}", None, False
    now = p.now()
    if stopped:  # the sink failed earlier in this pass: try it next time, or give up now
        if ds.overdue(record, now, s.alert_delivery_give_up_seconds):
            stored = p.state.update(name, lambda r: ds.give_up(r, sink.id, now, "sink failing"))
            if ds.states(stored).get(sink.id) == ds.GAVE_UP:
                return f"gave up: {stored['sinks'][sink.id]['lastError']}", None, True
        return "waiting: the sink failed in this pass", None, False
    previous = ds.previous_id(note["id"])
    if previous is not None and ds.held(p.state.read_json(delivery_name(previous))[0], sink.id):
        return f"waiting: behind {previous}", None, False
    if not ds.due(entry, now, eager):
        return ("waiting: being sent by another deliverer" if ds.leased(entry, now)
                else f"waiting: next try at {entry['nextTryAt']}"), None, False
    stored = p.state.update(name, lambda r: ds.take_lease(r, sink.id, p.owner, now,
                                                           lease_seconds(s), eager))
    if not ds.holds_lease(stored, sink.id, p.owner):
        return "waiting: being sent by another deliverer", None, False

    def prepare():  # signed when sent, with the time it is sent
        return render(sink, note, s, int(p.wall()))

    r = send(session, sink, prepare, s, p.deadline, tries, p.sleep, p.clock)
    done = p.now()
    stored = p.state.update(name, lambda rec: ds.record_attempt(
        rec, sink.id, p.owner, ok=r.ok, attempts=r.attempts, error=r.error, now=done,
        give_up_seconds=s.alert_delivery_give_up_seconds,
        base_delay=s.alert_delivery_backoff_seconds))
    if r.ok:
        return "ok", r, False
    log.warning("alert sink %s failed for notification %s: %s after %d attempt(s)",
                sink.id, note["id"], r.error, r.attempts)
    if ds.states(stored).get(sink.id) == ds.GAVE_UP:
        return f"gave up: {r.error}", r, True
    return f"failed: {r.error}", r, False


def _sink_pass(p: _Pass, sink: Sink, notes: list[dict], tries: int, stop_on_failure: bool,
               session, eager: bool = False) -> tuple[dict[str, str], list[Result], int]:
    outcomes, sent, gave_up, failed = {}, [], 0, False
    for note in notes:
        outcome, r, given_up = _try(p, session, sink, note, 1 if failed else tries,
                                    failed and stop_on_failure, eager)
        outcomes[note["id"]] = outcome
        gave_up += given_up
        if r is not None:
            sent.append(r)
            failed = failed or not r.ok
    return outcomes, sent, gave_up


_NO_HEALTH = {"consecutiveFailures": 0, "lastError": None, "lastErrorAt": None,
              "lastSuccessAt": None, "delivered": 0, "failedAttempts": 0, "givenUp": 0}


def _record_health(p: _Pass, sink: Sink, sent: list[Result], gave_up: int) -> None:
    """Fold this pass's outcomes into the sink's counters (BlobState.update: concurrent
    passes never lose each other's counts)."""
    if not sent and not gave_up:
        return
    at = p.now().isoformat()

    def fold(rec: dict | None) -> dict:
        rec = {**_NO_HEALTH, **(rec or {})}
        for r in sent:
            if r.ok:
                rec.update(consecutiveFailures=0, lastSuccessAt=at,
                           delivered=rec["delivered"] + 1,
                           failedAttempts=rec["failedAttempts"] + r.attempts - 1)
            else:
                rec.update(consecutiveFailures=rec["consecutiveFailures"] + 1,
                           lastError=r.error, lastErrorAt=at,
                           failedAttempts=rec["failedAttempts"] + r.attempts)
        rec["givenUp"] += gave_up
        return {**rec, "sink": sink.id, "kind": sink.kind, "target": sink.target}

    try:
        p.state.update(sink_health_name(sink.id), fold)
    except Exception:  # bookkeeping must not turn a delivery into a failure
        log.exception("could not record health of sink %s", sink.id)


def _run_sinks(p: _Pass, sinks: list[Sink], work) -> dict[str, dict[str, str]]:
    """`work(sink, session)` -> {notification id: outcome} for each sink, one thread each,
    so a dead sink holds up no other; {notification id: {sink id: outcome}}."""
    import requests

    def run(sink):
        with requests.Session() as session:
            return work(sink, session)

    report: dict[str, dict[str, str]] = {}
    with ThreadPoolExecutor(max_workers=len(sinks), thread_name_prefix="alert-sink") as pool:
        futures = {s.id: pool.submit(run, s) for s in sinks}
        for sink_id, fut in futures.items():
            try:
                outcomes = fut.result()
            except Exception as exc:  # a bug or a storage error in one sink's pass
                log.exception("alert sink %s: delivery pass failed", sink_id)
                outcomes = {"*": f"failed: {type(exc).__name__}"}
            for nid, outcome in outcomes.items():
                report.setdefault(nid, {})[sink_id] = outcome
    return report


def _close(state, note_ids) -> None:
    """Drop outbox entries of notifications every sink has."""
    for nid in note_ids:
        record, _ = state.read_json(delivery_name(nid))
        if record is not None and ds.all_delivered(record):
            state.delete(outbox_name(nid))


def deliver(services, notifications: list[dict], now: datetime | None = None, *,
            sleep=time.sleep, clock=time.monotonic, wall=time.time,
            sinks: list[Sink] | None = None) -> dict:
    """Send each notification to every sink now, as far as the budget allows; what is not
    delivered is left to `retry_deliveries`. {notification id: {sink id: outcome}}, the
    outcome `ok`, `already delivered`, `failed: <error>` (it will be retried),
    `gave up: <error>` or `waiting: <why>`. Never raises for a sink failure. `sinks`: where
    these notifications go (a feed's, `Feeds.sinks`); default: the global sinks."""
    sinks = configured_sinks(services.settings) if sinks is None else sinks
    if not sinks or not notifications:
        return {note["id"]: {} for note in notifications}
    p = _Pass(services, now or datetime.now(UTC), sleep, clock, wall)
    notes = sorted(notifications, key=_order)
    for note in notes:
        _open(p.state, note, [s.id for s in sinks], p.now())
    ids = {note["id"] for note in notes}

    def work(sink, session):
        outcomes, sent, gave_up = _sink_pass(p, sink, notes, p.settings.alert_delivery_attempts,
                                             False, session)
        if any(r.ok for r in sent):  # the sink answers: what it is owed goes too
            more = [n for n in p.backlog()
                    if n["id"] not in ids or outcomes[n["id"]].startswith("waiting")]
            drained, sent2, gave_up2 = _sink_pass(p, sink, more, 1, True, session, eager=True)
            outcomes.update({k: v for k, v in drained.items() if k in ids})
            sent, gave_up = sent + sent2, gave_up + gave_up2
        _record_health(p, sink, sent, gave_up)
        return outcomes

    report = _run_sinks(p, sinks, work)
    crashed = report.pop("*", {})
    _close(p.state, ids | {n["id"] for n in (p._backlog or [])})
    return {note["id"]: {**report.get(note["id"], {}), **crashed} for note in notes}


def retry_deliveries(services, now: datetime, *, sleep=time.sleep, clock=time.monotonic,
                     wall=time.time, sinks: list[Sink] | None = None) -> dict:
    """One retry pass at `now` over everything in the outbox (see the module docstring);
    {notification id: {sink id: outcome}} for what it looked at. `sinks`: every sink any
    notification may name (every feed's, `Feeds.all_sinks`); default: the global sinks."""
    settings = services.settings
    p = _Pass(services, now, sleep, clock, wall)
    entries = _outbox(p.state)
    if not entries:
        return {}
    sinks = configured_sinks(settings) if sinks is None else sinks
    configured = {s.id for s in sinks}
    notes = []
    for entry in entries:
        note = entry["notification"]
        record, _ = p.state.read_json(delivery_name(note["id"]))
        if record is None:  # its deliverer died before making it: make it now
            created = datetime.fromisoformat(entry.get("createdAt") or now.isoformat())
            record = _open(p.state, note, sorted(configured), created)
        for sink_id in set(ds.states(record)) - configured:  # a sink taken out of the settings
            p.state.update(delivery_name(note["id"]),
                           lambda r, s=sink_id: ds.give_up(r, s, p.now(),
                                                           "sink no longer configured"))
        notes.append(note)

    def work(sink, session):
        outcomes, sent, gave_up = _sink_pass(p, sink, notes, 1, True, session)
        _record_health(p, sink, sent, gave_up)
        return outcomes

    report = _run_sinks(p, sinks, work) if sinks else {}
    report.pop("*", None)  # a pass that crashed was logged; its notes stay owed
    _prune(p, [n["id"] for n in notes])
    delivered = sum(o == "ok" for per in report.values() for o in per.values())
    if delivered or any(o.startswith(("failed", "gave up")) for per in report.values()
                        for o in per.values()):
        log.info("alert delivery retry: %d notification(s) owed, %d delivered now",
                 len(notes), delivered)
    return report


def _prune(p: _Pass, note_ids: list[str]) -> None:
    """Drop outbox entries that are done: delivered everywhere, or given up and shown for
    one more give-up period."""
    now = p.now()
    for nid in note_ids:
        record, _ = p.state.read_json(delivery_name(nid))
        if record is None:
            continue
        until = ds.shown_until(record, p.settings.alert_delivery_give_up_seconds)
        if ds.all_delivered(record) or (until is not None and now >= until):
            p.state.delete(outbox_name(nid))


def delivery_states(services, notification_ids: list[str]) -> dict[str, dict[str, str]]:
    """{notification id: {sink id: delivered | retrying | gave_up}} ({} when no record)."""
    return {nid: ds.states(services.state.read_json(delivery_name(nid))[0])
            for nid in notification_ids}


def undelivered(services, now: datetime | None = None) -> dict[str, list[dict]]:
    """{sink id: notifications it is owed or was given up on (while shown)}."""
    now = now or datetime.now(UTC)
    give_up = services.settings.alert_delivery_give_up_seconds
    out: dict[str, list[dict]] = {}
    for entry in _outbox(services.state):
        nid = entry["notification"]["id"]
        record, _ = services.state.read_json(delivery_name(nid))
        if record is None:
            continue
        until = ds.shown_until(record, give_up)
        if until is not None and now >= until:
            continue
        for sink_id, e in record["sinks"].items():
            if e["state"] in (ds.RETRYING, ds.GAVE_UP):
                out.setdefault(sink_id, []).append({
                    "notificationId": nid, "alertId": record["alertId"], "kind": record["kind"],
                    "subject": record["subject"], "type": record["type"], "state": e["state"],
                    "attempts": e["attempts"], "lastError": e.get("lastError"),
                    "nextTryAt": e["nextTryAt"] if e["state"] == ds.RETRYING else None})
    return out


def sink_health(services, now: datetime | None = None, sinks: list[Sink] | None = None) -> dict:
    """{"ok", "configured", "sinks": {id: {...}}} for /api/health: a sink is ok when its
    last try succeeded and it is owed nothing (retrying or given up); none configured is ok.
    `sinks`: every feed's (default: the global sinks)."""
    owed = undelivered(services, now)
    configured = configured_sinks(services.settings) if sinks is None else sinks
    sinks = {}
    for sink in configured:
        rec, _ = services.state.read_json(sink_health_name(sink.id))
        rec = {**_NO_HEALTH, **(rec or {})}
        items = owed.get(sink.id, [])
        retrying = sum(i["state"] == ds.RETRYING for i in items)
        rec.update(sink=sink.id, kind=sink.kind, target=sink.target,
                   undelivered={"retrying": retrying, "gave_up": len(items) - retrying,
                                "notifications": items[:20]},
                   ok=rec["consecutiveFailures"] == 0 and not items)
        sinks[sink.id] = rec
    bad = [f"{sid}: {len(owed.get(sid, []))} undelivered" for sid, r in sinks.items()
           if owed.get(sid)]
    return {"ok": all(r["ok"] for r in sinks.values()), "configured": len(sinks),
            "sinks": sinks, **({"detail": "; ".join(bad)} if bad else {})}
