"""Durable history events in the shape the Python worker replays (see PLATFORM-FACTS.md).

Event ids follow the orchestrator's own sequence numbers: the engine allocates them in the
same order `azure-functions-durable` does while replaying, so `TaskScheduledId`/`TimerId`
match the tasks the orchestrator is waiting on.
"""
from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum

from azure.durable_functions.models.history import HistoryEventType as T

__all__ = ["T", "event", "iso", "now_utc", "parse_iso"]


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """ISO-8601 UTC with microseconds and a Z, as the host writes timestamps."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    from dateutil.parser import isoparse

    dt = isoparse(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def event(kind: IntEnum, at: datetime, event_id: int = -1, **fields) -> dict:
    """One history event; `IsPlayed` is set when the history is handed to the worker."""
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False,
            "Timestamp": iso(at), **fields}
