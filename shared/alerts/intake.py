"""Alert intake (POST /api/alerts): Azure Monitor alerts in the common alert schema.

Order of checks, so nothing is parsed for a caller who may not send it:
  1. body over 256 KB (Azure's own limit for common-schema alerts) -> PayloadTooLarge (413)
  2. ALERT_INTAKE_SECRET set and the given secret differs (constant-time compare) ->
     Unauthorized (401)
  3. not JSON, wrong schemaId, missing/invalid essentials -> InvalidAlert (400) whose
     message names the field path, e.g. `data.essentials.monitorCondition`
Error messages never contain the secret or the submitted values.

A valid alert becomes our alert: kind `azure_monitor`, subject `<alertRule>` or
`<alertRule>@<first target's name>` (one open alert per rule and resource, so stateless log
alerts that fire every evaluation are counted, not re-sent), severity from the payload;
Fired raises or counts it, Resolved resolves it. The action mapped to the rule in
ALERT_RULE_ACTIONS (retrain | score | none) is returned only when the alert newly fires,
for the caller to carry out. Alerts our own sinks sent (monitoringService adf-ml-glue)
are ignored, so a webhook pointed back at us cannot loop.
"""
from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from shared.errors import BadRequest, PayloadTooLarge, Unauthorized, describe_validation_error
from shared.settings import parse_rule_actions

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SECRET_HEADER = "X-Alert-Secret"  # header only: a query-string secret ends up in URL logs
KIND = "azure_monitor"


class InvalidAlert(BadRequest):
    error = "invalid alert"


class Essentials(BaseModel):
    model_config = ConfigDict(extra="allow")

    alertId: str  # noqa: N815 (the schema's names)
    alertRule: str  # noqa: N815
    severity: Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
    signalType: str  # noqa: N815
    monitorCondition: Literal["Fired", "Resolved"]  # noqa: N815
    monitoringService: str | None = None  # noqa: N815
    alertTargetIDs: list[str] = []  # noqa: N815
    configurationItems: list[str] | None = None  # noqa: N815
    originAlertId: str | None = None  # noqa: N815
    firedDateTime: datetime  # noqa: N815
    resolvedDateTime: datetime | None = None  # noqa: N815
    description: str | None = None
    essentialsVersion: str | None = None  # noqa: N815
    alertContextVersion: str | None = None  # noqa: N815

    @field_validator("alertId", "alertRule", "signalType")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v


class AlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    essentials: Essentials
    alertContext: dict[str, Any] | None = None  # noqa: N815
    customProperties: dict[str, Any] | None = None  # noqa: N815


class CommonAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    schemaId: Literal["azureMonitorCommonAlertSchema"]  # noqa: N815
    data: AlertData


@dataclass
class IntakeResult:
    alert: dict | None  # our alert after this payload (None: nothing open to resolve)
    notifications: list[dict] = field(default_factory=list)
    action: str = "none"  # what the caller should do: retrain | score | none
    ignored: str | None = None  # why the payload was accepted but not acted on

    def to_response(self) -> dict:
        a = self.alert or {}
        return {"accepted": True, "alertId": a.get("id"), "state": a.get("state"),
                "count": a.get("count"), "notified": [n["type"] for n in self.notifications],
                "action": self.action, "ignored": self.ignored}


def check_secret(provided: str | None, expected: str | None) -> None:
    """Constant-time check; no secret configured means the function key alone guards."""
    if not expected:
        return
    if not hmac.compare_digest((provided or "").encode(), expected.encode()):
        raise Unauthorized("missing or wrong alert secret")


def parse(body: bytes | str, provided_secret: str | None = None,
          expected_secret: str | None = None) -> CommonAlert:
    """Size, secret and schema checks, in that order (see the module docstring)."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"{len(raw)} bytes; the limit is {MAX_BODY_BYTES} bytes (256 KB)",
                              "payload too large")
    check_secret(provided_secret, expected_secret)
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidAlert("body: not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidAlert("body: expected a JSON object")
    try:
        return CommonAlert.model_validate(doc)
    except ValidationError as err:
        raise InvalidAlert(describe_validation_error(err)) from None


def to_finding(alert: CommonAlert) -> dict:
    e = alert.data.essentials
    target = e.alertTargetIDs[0].rstrip("/").rsplit("/", 1)[-1] if e.alertTargetIDs else ""
    subject = f"{e.alertRule}@{target}" if target else e.alertRule
    fired = e.monitorCondition == "Fired"
    return {
        "kind": KIND, "subject": subject, "severity": e.severity, "firing": fired,
        "status": "alert" if fired else "ok",
        "summary": e.description or f"Azure Monitor alert {e.alertRule} {e.monitorCondition}",
        "context": {
            "alertRule": e.alertRule, "azureAlertId": e.alertId, "signalType": e.signalType,
            "monitoringService": e.monitoringService, "alertTargetIDs": e.alertTargetIDs,
            "firedDateTime": e.firedDateTime.isoformat(),
            "resolvedDateTime": e.resolvedDateTime.isoformat() if e.resolvedDateTime else None,
            "alertContext": alert.data.alertContext,
            "customProperties": alert.data.customProperties,
        },
    }


def receive_alert(services, body: bytes | str, provided_secret: str | None,
                  now: datetime) -> IntakeResult:
    """Validate, record and decide; the caller delivers `notifications` (shared.alerts.
    deliver) and carries out `action`. Raises AppError subclasses (status on `.status`)."""
    from shared.alerts.manager import apply_finding
    from shared.alerts.payloads import MONITORING_SERVICE
    from shared.alerts.store import AlertStore

    settings = services.settings
    alert = parse(body, provided_secret, settings.alert_intake_secret)
    actions = parse_rule_actions(settings.alert_rule_actions)
    e = alert.data.essentials
    if e.monitoringService == MONITORING_SERVICE:
        return IntakeResult(alert=None, ignored="sent by this app's own alert sinks")
    store = AlertStore(services.state)
    finding = to_finding(alert)
    note = apply_finding(store, finding, now, timedelta(seconds=settings.alert_cooldown_seconds),
                         source="azure-monitor")
    current, _ = store.get(finding["kind"], finding["subject"])
    action = "none"
    if note is not None and note["type"] == "Fired":
        action = actions.get(e.alertRule.casefold(), "none")
    log.info("azure monitor alert %s %s: %s, action %s", e.alertRule, e.monitorCondition,
             note["type"] if note else "recorded", action)
    return IntakeResult(alert=current.to_json() if current else None,
                        notifications=[note] if note else [], action=action)
