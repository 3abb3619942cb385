"""The delivery record of one notification and the pure decisions over it (no I/O).

A record (`alerts/deliveries/<notification id>.json`, written only through
`BlobState.update` with these functions as the change) holds, per sink:

    state        retrying | delivered | gave_up        (retrying until one of the others)
    attempts     HTTP requests made so far;  rounds: delivery passes that tried and failed
    lastError, lastAttemptAt, nextTryAt, deliveredAt, gaveUpAt
    lease        {"owner", "until"} while one deliverer is sending, else None

| sink entry                              | decision                                      |
|-----------------------------------------|-----------------------------------------------|
| delivered or gave_up                    | never sent again                              |
| retrying, nextTryAt <= now, no live lease| due: take the lease, then send               |
| retrying, leased until after now        | someone is sending: wait                      |
| retrying, lease expired (a crash)       | due again: at least once, the same id         |
| retrying, not yet time, but the sink    | due (eager): the backoff was for a failing    |
| just took another notification          | sink, and it answers again                    |
| an earlier notification of the same     | held: per alert and sink, notifications go    |
| alert is retrying for the sink          | out in order (no Fired after its Resolved)    |
| failed, now - createdAt < give-up       | retrying, nextTryAt = now + retry_delay(rounds)|
| failed, now - createdAt >= give-up      | gave_up                                       |

A lease is taken and checked in one conditional write, so of two deliverers only one holds
it; it outlives a delivery budget, so it expires only when its holder is gone.
"""
from __future__ import annotations

from datetime import datetime, timedelta

RETRYING, DELIVERED, GAVE_UP = "retrying", "delivered", "gave_up"
MAX_RETRY_DELAY = 900.0  # seconds between tries of one notification, at most


def _iso(t: datetime) -> str:
    return t.isoformat()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def sequence(notification_id: str) -> tuple[str, int]:
    """(alert id, n) of a notification id `<alert id>-<n>`."""
    alert, _, n = notification_id.rpartition("-")
    return alert, int(n)


def previous_id(notification_id: str) -> str | None:
    """The notification of the same alert made just before this one, if any."""
    alert, n = sequence(notification_id)
    return f"{alert}-{n - 1}" if n > 1 else None


def new_record(note: dict, sink_ids: list[str], now: datetime) -> dict:
    a = note["alert"]
    return {"notificationId": note["id"], "alertId": a["id"], "kind": a["kind"],
            "subject": a["subject"], "type": note["type"], "createdAt": _iso(now),
            "sinks": {s: {"state": RETRYING, "attempts": 0, "rounds": 0, "lastError": None,
                          "lastAttemptAt": None, "nextTryAt": _iso(now), "deliveredAt": None,
                          "gaveUpAt": None, "lease": None} for s in sink_ids}}


def retry_delay(rounds: int, base: float, cap: float = MAX_RETRY_DELAY) -> float:
    """Seconds to wait after the `rounds`-th failed pass: base x 2^rounds, capped."""
    return min(cap, base * 2 ** rounds)


def leased(entry: dict, now: datetime) -> bool:
    lease = entry.get("lease")
    return bool(lease) and _time(lease["until"]) > now


def due(entry: dict | None, now: datetime, eager: bool = False) -> bool:
    """Retrying, its next try has come, and no live lease: a deliverer may take it.
    `eager`: the sink has just taken a delivery, so the backoff no longer applies."""
    return (entry is not None and entry["state"] == RETRYING
            and (eager or _time(entry["nextTryAt"]) <= now) and not leased(entry, now))


def held(previous: dict | None, sink_id: str) -> bool:
    """An earlier notification of the same alert is still on its way to this sink."""
    entry = ((previous or {}).get("sinks") or {}).get(sink_id)
    return entry is not None and entry["state"] == RETRYING


def overdue(record: dict, now: datetime, give_up_seconds: float) -> bool:
    return now - _time(record["createdAt"]) >= timedelta(seconds=give_up_seconds)


def take_lease(record: dict | None, sink_id: str, owner: str, now: datetime,
               seconds: float, eager: bool = False) -> dict | None:
    """The record with `owner` holding the sink's lease, or None (no change) when the sink
    is not due. For BlobState.update: the write is conditional, so one taker wins."""
    entry = ((record or {}).get("sinks") or {}).get(sink_id)
    if not due(entry, now, eager):
        return None
    lease = {"owner": owner, "until": _iso(now + timedelta(seconds=seconds))}
    return {**record, "sinks": {**record["sinks"], sink_id: {**entry, "lease": lease}}}


def holds_lease(record: dict | None, sink_id: str, owner: str) -> bool:
    entry = ((record or {}).get("sinks") or {}).get(sink_id) or {}
    return (entry.get("lease") or {}).get("owner") == owner


def record_attempt(record: dict, sink_id: str, owner: str, *, ok: bool, attempts: int,
                   error: str | None, now: datetime, give_up_seconds: float,
                   base_delay: float) -> dict:
    """The record after `owner` tried the sink: delivered, or retrying with the next try
    scheduled, or gave_up past the give-up time. A success always counts (it happened);
    a failure by someone whose lease was taken over only adds its attempts."""
    entry = dict(record["sinks"][sink_id])
    mine = (entry.get("lease") or {}).get("owner") == owner
    if mine:
        entry["lease"] = None
    if attempts:
        entry.update(attempts=entry["attempts"] + attempts, lastAttemptAt=_iso(now))
    if entry["state"] != RETRYING or (not ok and not attempts):
        pass  # final already, or nothing was sent (no time left): only the lease goes
    elif ok:
        entry.update(state=DELIVERED, deliveredAt=_iso(now), lastError=None)
    else:
        entry["lastError"] = error
        if mine:
            entry["rounds"] += 1
            if overdue(record, now, give_up_seconds):
                entry.update(state=GAVE_UP, gaveUpAt=_iso(now))
            else:
                wait = retry_delay(entry["rounds"], base_delay)
                entry["nextTryAt"] = _iso(now + timedelta(seconds=wait))
    return {**record, "sinks": {**record["sinks"], sink_id: entry}}


def give_up(record: dict | None, sink_id: str, now: datetime, reason: str) -> dict | None:
    """The record with a retrying sink given up without a try (the sink is gone from the
    settings, or it just failed and the notification is past its give-up time); None
    when there is nothing to change or a deliverer holds a live lease."""
    entry = ((record or {}).get("sinks") or {}).get(sink_id)
    if entry is None or entry["state"] != RETRYING or leased(entry, now):
        return None
    entry = {**entry, "state": GAVE_UP, "gaveUpAt": _iso(now),
             "lastError": entry.get("lastError") or reason}
    return {**record, "sinks": {**record["sinks"], sink_id: entry}}


def states(record: dict | None) -> dict[str, str]:
    """{sink id: delivered | retrying | gave_up}."""
    return {s: e["state"] for s, e in ((record or {}).get("sinks") or {}).items()}


def finished(record: dict) -> bool:
    """No sink is still retrying."""
    return RETRYING not in states(record).values()


def all_delivered(record: dict) -> bool:
    return set(states(record).values()) <= {DELIVERED}


def shown_until(record: dict, give_up_seconds: float) -> datetime | None:
    """A finished record with a given-up sink keeps the sink unhealthy for one more give-up
    period after the last give-up, so someone notices; None while that does not apply."""
    given_up = [_time(e.get("gaveUpAt")) for e in record["sinks"].values()
                if e["state"] == GAVE_UP and e.get("gaveUpAt")]
    if not finished(record) or not given_up:
        return None
    return max(given_up) + timedelta(seconds=give_up_seconds)
