"""Alert state in blob storage (STATE_CONTAINER), written with etag conditions.

  alerts/current/<kind>/<subject, url-quoted>.json  the latest alert per key, Fired or
                                                     Resolved; create-if-absent or
                                                     if-match writes, so two runs cannot
                                                     both open the same alert
  alerts/history/<inverted firstSeen ms>-<id>.json  one snapshot per alert (lists newest
                                                     first), rewritten when it notifies
  alerts/outbox/<notification id>.json              a notification not yet delivered to
                                                     every sink (holds it, for the retries)
  alerts/deliveries/<notification id>.json           its delivery record: per sink
                                                     delivered | retrying | gave_up, tries,
                                                     last error, next try, lease
                                                     (shared.alerts.delivery_state)
  alerts/sinks/<sink id>.json                        per-sink delivery health counters
  alerts/actions/<alert id>.json                     the rule action of an Azure Monitor
                                                     alert: pending until its run started
  alerts/logs-monitor.json                           the last Log Analytics query outcome
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from shared.alerts.model import Alert

log = logging.getLogger(__name__)

PREFIX = "alerts/"
_MAX_MS = 10**13 - 1


def current_name(kind: str, subject: str) -> str:
    return f"{PREFIX}current/{quote(kind, safe='')}/{quote(subject, safe='')}.json"


def outbox_name(notification_id: str) -> str:
    return f"{PREFIX}outbox/{quote(notification_id, safe='')}.json"


def delivery_name(notification_id: str) -> str:
    return f"{PREFIX}deliveries/{quote(notification_id, safe='')}.json"


def sink_health_name(sink_id: str) -> str:
    return f"{PREFIX}sinks/{quote(sink_id, safe='')}.json"


def action_name(alert_id: str) -> str:
    return f"{PREFIX}actions/{quote(alert_id, safe='')}.json"


def latest_notification_id(alert: Alert) -> str | None:
    return f"{alert.id}-{alert.notifications}" if alert.notifications else None


def history_name(alert: Alert) -> str:
    inverted = _MAX_MS - int(alert.first_seen.timestamp() * 1000)
    return f"{PREFIX}history/{inverted:013d}-{alert.id}.json"


class AlertStore:
    """Typed access to the blobs above, over a `BlobState` (the state container)."""

    def __init__(self, state):
        self.state = state

    # --- alerts -------------------------------------------------------------------------
    def get(self, kind: str, subject: str) -> tuple[Alert | None, str | None]:
        data, etag = self.state.read_json(current_name(kind, subject))
        return (Alert.from_json(data) if data else None), etag

    def put(self, alert: Alert, etag: str | None) -> bool:
        """Save the current alert for its key: create when `etag` is None, else if-match."""
        name = current_name(alert.kind, alert.subject)
        if etag is None:
            return self.state.create(name, alert.to_json())
        return self.state.replace(name, alert.to_json(), etag)

    def record_history(self, alert: Alert) -> None:
        self.state.put(history_name(alert), alert.to_json())

    def _read_all(self, prefix: str, limit: int | None = None) -> list[Alert]:
        out: list[Alert] = []
        for props in self.state.list(prefix):
            data, _ = self.state.read_json(props.name)
            if data is None:
                continue  # deleted between list and read
            try:
                out.append(Alert.from_json(data))
            except ValueError:
                log.warning("skipping unreadable alert blob %s", props.name)
            if limit is not None and len(out) >= limit:
                break
        return out

    def list_current(self) -> list[Alert]:
        return self._read_all(f"{PREFIX}current/")

    def list_history(self, limit: int) -> list[Alert]:
        return self._read_all(f"{PREFIX}history/", limit)
