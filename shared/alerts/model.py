"""The alert: one per (kind, subject) at a time, Fired until its condition clears."""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Severity = Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]


def severity_rank(sev: str) -> int:
    """Sev0 -> 0 (most severe) ... Sev4 -> 4."""
    return int(sev[3:])


def alert_id(kind: str, subject: str, first_seen: datetime) -> str:
    """Deterministic, so a retried activity that opens the same alert names it the same."""
    raw = f"{kind}|{subject}|{first_seen.isoformat()}".encode()
    return hashlib.sha256(raw).hexdigest()[:20]


class Alert(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    id: str
    kind: str
    subject: str
    severity: Severity
    state: Literal["Fired", "Resolved"]
    status: str = "alert"  # the finding status that fired it: warning | alert
    source: str = "checks"  # checks | azure-monitor | log-analytics
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    count: int = 1  # observations while open, the first included
    summary: str = ""
    context: dict = Field(default_factory=dict)
    links: dict = Field(default_factory=dict)
    notifications: int = 0  # notifications made so far (numbers the next one)
    last_notified_at: datetime | None = None
    last_notification: str | None = None  # Fired | Repeat | Escalated | Resolved
    notified_severity: Severity | None = None  # the most severe level people were told

    def to_json(self) -> dict:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: dict) -> Alert:
        return cls.model_validate(data)
