"""Turn findings into alert state and notifications (load, decide, conditional save)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.alerts.decide import decide
from shared.alerts.model import severity_rank
from shared.alerts.outbox import delivery_states
from shared.alerts.store import AlertStore, latest_notification_id

log = logging.getLogger(__name__)

MAX_CONFLICTS = 20  # retries when another writer changed the same alert first


def apply_finding(store: AlertStore, finding: dict, now: datetime, cooldown: timedelta,
                  links: dict | None = None, source: str = "checks") -> dict | None:
    """Decide and save one finding against its current alert; the notification, if any.
    A conflicting concurrent write makes it reload and decide again."""
    for _ in range(MAX_CONFLICTS):
        current, etag = store.get(finding["kind"], finding["subject"])
        new, note = decide(current, finding, now, cooldown, links, source)
        if new is None or new is current:
            return note
        if store.put(new, etag):
            if note is not None:
                store.record_history(new)
                log.info("alert %s %s/%s: %s (%s, count %d)", new.id, new.kind, new.subject,
                         note["type"], new.severity, new.count)
            return note
    raise RuntimeError(f"alert {finding['kind']}/{finding['subject']} kept changing under us")


def _merge(findings: Iterable[dict]) -> list[dict]:
    """One finding per (kind, subject): the firing, most severe one wins; else the first
    that was evaluated (insufficient ones lose to anything)."""
    best: dict[tuple[str, str], dict] = {}

    def rank(f):
        if f.get("firing"):
            return (2, -severity_rank(f["severity"]))
        return (1 if f.get("status") != "insufficient-history" else 0, 0)

    for f in findings:
        key = (f["kind"], f["subject"])
        if key not in best or rank(f) > rank(best[key]):
            best[key] = f
    return list(best.values())


def process_findings(services, findings: list[dict], now: datetime, links: dict | None = None,
                     *, complete_kinds: Iterable[str] = (), source: str = "checks") -> list[dict]:
    """Apply findings to the alert store; the notifications to send (possibly none).

    Idempotent for a given `now`: running it again with the same findings and time returns
    the same notifications (same ids) and changes nothing, so deliver() finds their
    delivery records and sends nothing twice.
    `complete_kinds`: kinds for which `findings` lists every subject with a problem: an
    open alert of such a kind whose subject is absent is resolved (e.g. run_stuck for runs
    that disappeared, external runs that left the query window).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    store = AlertStore(services.state)
    cooldown = timedelta(seconds=services.settings.alert_cooldown_seconds)
    merged = _merge(findings)
    notes = [apply_finding(store, f, now, cooldown, links, source) for f in merged]
    complete = set(complete_kinds)
    if complete:
        seen = {(f["kind"], f["subject"]) for f in merged}
        for alert in store.list_current():
            if (alert.kind in complete and alert.state == "Fired"
                    and (alert.kind, alert.subject) not in seen):
                gone = {"kind": alert.kind, "subject": alert.subject, "severity": "Sev4",
                        "firing": False, "status": "ok",
                        "summary": "condition no longer observed", "context": {}}
                notes.append(apply_finding(store, gone, now, cooldown, links, source))
    return [n for n in notes if n is not None]


def list_alerts(services, open_only: bool = True, limit: int = 50) -> list[dict]:
    """Open alerts (newest activity first), or with open_only=False the open and recent
    ones (history), the current state of each alert winning over its snapshot. Each has
    `delivery`: {sink id: delivered | retrying | gave_up} of its latest notification."""
    store = AlertStore(services.state)
    limit = max(1, int(limit))
    current = store.list_current()
    by_id = {a.id: a for a in current if a.state == "Fired" or not open_only}
    if not open_only:
        for a in store.list_history(limit):
            by_id.setdefault(a.id, a)
    alerts = sorted(by_id.values(), key=lambda a: a.last_seen, reverse=True)[:limit]
    latest = {a.id: latest_notification_id(a) for a in alerts}
    states = delivery_states(services, [n for n in latest.values() if n])
    return [{**a.to_json(), "delivery": states.get(latest[a.id], {})} for a in alerts]
