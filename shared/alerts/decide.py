"""The pure deduplication decision: given the current alert for a (kind, subject) and a new
finding, what is the new state and is anyone told?

| current         | finding                 | result                                        |
|-----------------|-------------------------|-----------------------------------------------|
| any             | insufficient-history    | unchanged, silent (never resolves)            |
| any             | observed before `now`   | unchanged, silent (a stale evaluation)        |
| seen at `now`   | same instant again      | unchanged; the notification made at `now`, if |
|                 |                         | any, again with the same id (idempotent retry)|
| none / Resolved | firing                  | new alert, count 1, notify Fired              |
| Fired           | firing, more severe     | count+1, notify Escalated                     |
|                 | than anything notified  |                                               |
| Fired           | firing, cooldown passed | count+1, notify Repeat                        |
|                 | since the last notice   |                                               |
| Fired           | firing, within cooldown | count+1, silent                               |
| Fired           | not firing              | Resolved, notify Resolved (once)              |
| none / Resolved | not firing              | unchanged, silent                             |

Notification ids are `<alertId>-<n>`, so delivery can be made idempotent per id.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.alerts.model import Alert, alert_id, severity_rank

INSUFFICIENT = "insufficient-history"


def notification_for(alert: Alert) -> dict:
    """The notification describing the alert's last notified change."""
    kind = alert.last_notification or "Fired"
    return {
        "id": f"{alert.id}-{alert.notifications}",
        "type": kind,
        "monitorCondition": "Resolved" if kind == "Resolved" else "Fired",
        "alert": alert.to_json(),
    }


def _notify(alert: Alert, kind: str, now: datetime) -> tuple[Alert, dict]:
    notified = alert.notified_severity
    if kind != "Resolved" and (notified is None
                               or severity_rank(alert.severity) < severity_rank(notified)):
        notified = alert.severity
    new = alert.model_copy(update={"notifications": alert.notifications + 1,
                                   "last_notified_at": now, "last_notification": kind,
                                   "notified_severity": notified})
    return new, notification_for(new)


def decide(current: Alert | None, finding: dict, now: datetime,
           cooldown: timedelta | float, links: dict | None = None,
           source: str = "checks") -> tuple[Alert | None, dict | None]:
    """(new state, notification or None). Returns `current` itself when nothing changes."""
    if not isinstance(cooldown, timedelta):
        cooldown = timedelta(seconds=float(cooldown))
    if finding.get("status") == INSUFFICIENT:
        return current, None
    if current is not None:
        if current.last_seen > now:
            return current, None
        if current.last_seen == now:
            replay = current.last_notified_at == now
            return current, (notification_for(current) if replay else None)

    kind, subject = finding["kind"], finding["subject"]
    if finding.get("firing"):
        update = {"severity": finding["severity"], "status": finding.get("status", "alert"),
                  "summary": finding.get("summary", ""), "context": finding.get("context") or {},
                  "last_seen": now}
        if current is None or current.state == "Resolved":
            alert = Alert(id=alert_id(kind, subject, now), kind=kind, subject=subject,
                          state="Fired", source=source, first_seen=now, count=1,
                          links=dict(links or {}), **update)
            return _notify(alert, "Fired", now)
        alert = current.model_copy(update={**update, "count": current.count + 1,
                                           "links": {**current.links, **(links or {})}})
        told = current.notified_severity
        if told is not None and severity_rank(alert.severity) < severity_rank(told):
            return _notify(alert, "Escalated", now)
        if current.last_notified_at is None or now - current.last_notified_at >= cooldown:
            return _notify(alert, "Repeat", now)
        return alert, None

    if current is not None and current.state == "Fired":
        alert = current.model_copy(update={
            "state": "Resolved", "resolved_at": now, "last_seen": now,
            "summary": finding.get("summary") or current.summary,
            "context": {**current.context, "resolvedBy": finding.get("context") or {}},
            "links": {**current.links, **(links or {})}})
        return _notify(alert, "Resolved", now)
    return current, None
