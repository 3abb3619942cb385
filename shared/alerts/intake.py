"""Alert intake (POST /api/alerts): Azure Monitor alerts in the common alert schema.

Order of checks, so nothing is parsed for a caller who may not send it:
  1. body over 256 KB (Azure's own limit for common-schema alerts) -> PayloadTooLarge (413)
  2. ALERT_INTAKE_SECRET and/or ALERT_INTAKE_SECRET_NEXT set and the `X-Alert-Secret`
     header matches neither (constant-time compares against each) -> Unauthorized (401)
  3. not JSON, wrong schemaId, missing/invalid essentials -> InvalidAlert (400) whose
     message names the field path, e.g. `data.essentials.monitorCondition`
Error messages never contain the secret or the submitted values.

A valid alert becomes our alert: kind `azure_monitor`, subject `<alertRule>` or
`<alertRule>@<first target's name>` (one open alert per rule and resource, so stateless log
alerts that fire every evaluation are counted, not re-sent), severity from the payload;
Fired raises or counts it, Resolved resolves it. Alerts our own sinks sent
(monitoringService adf-ml-glue) are ignored, so a webhook pointed back at us cannot loop.

The action mapped to the rule in ALERT_RULE_ACTIONS (retrain | score | none) is returned
for the caller to carry out whenever the alert is open (Fired) and its action has not been
started yet: `alerts/actions/<alert id>.json` says `pending` (with the payload that asked)
until the caller reports the run started (`action_started`); starting is idempotent (the
run's batch id derives from the alert id). When the start fails the caller answers 503
and Azure Monitor sends the same payload again: that redelivery is recognised (same
alertId, condition and times as the pending one) and only carries out the action, so the
alert is recorded once.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from shared.errors import (
    AppError,
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    describe_validation_error,
)
from shared.json_body import parse_json_body
from shared.settings import parse_rule_actions

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
SECRET_HEADER = "X-Alert-Secret"  # header only: a query-string secret ends up in URL logs
KIND = "azure_monitor"


class InvalidAlert(BadRequest):
    error = "invalid alert"


class ActionNotStarted(AppError):
    """The alert is recorded but its rule's run could not be started: 503, so that Azure
    Monitor (which retries 5xx) sends it again and the retry starts it."""
    status, error = 503, "action not started"


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
    redelivered: bool = False  # the same payload again after we answered 503

    def to_response(self) -> dict:
        a = self.alert or {}
        return {"accepted": True, "alertId": a.get("id"), "state": a.get("state"),
                "count": a.get("count"), "notified": [n["type"] for n in self.notifications],
                "action": self.action, "ignored": self.ignored,
                **({"redelivered": True} if self.redelivered else {})}


def check_secret(provided: str | None, expected: str | list[str | None] | None) -> None:
    """Constant-time check against each configured secret (the current one and, during a
    rotation, the next); none configured means the function key alone guards."""
    secrets = [x for x in ([expected] if isinstance(expected, str) else expected or []) if x]
    if not secrets:
        return
    given = (provided or "").encode()
    matches = [hmac.compare_digest(given, x.encode()) for x in secrets]  # all compared
    if not any(matches):
        raise Unauthorized("missing or wrong alert secret")


def parse(body: bytes | str, provided_secret: str | None = None,
          expected_secret: str | list[str | None] | None = None) -> CommonAlert:
    """Size, secret and schema checks, in that order (see the module docstring)."""
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"{len(raw)} bytes; the limit is {MAX_BODY_BYTES} bytes (256 KB)",
                              "payload too large")
    check_secret(provided_secret, expected_secret)
    try:
        doc = parse_json_body(raw, MAX_BODY_BYTES)
    except BadRequest as exc:
        raise InvalidAlert(f"body: {exc.detail.removeprefix('body is ')}") from None
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


def payload_key(alert: CommonAlert) -> str:
    """What identifies one delivery of one Azure Monitor notification (a redelivery of the
    same payload has the same key)."""
    e = alert.data.essentials
    raw = "|".join([e.alertId, e.monitorCondition, e.firedDateTime.isoformat(),
                    e.resolvedDateTime.isoformat() if e.resolvedDateTime else ""])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def receive_alert(services, body: bytes | str, provided_secret: str | None,
                  now: datetime) -> IntakeResult:
    """Validate, record and decide; the caller delivers `notifications` (shared.alerts.
    deliver), carries out `action` and reports it with `action_started`. Raises AppError
    subclasses (status on `.status`)."""
    from shared.alerts.manager import apply_finding
    from shared.alerts.payloads import MONITORING_SERVICE
    from shared.alerts.store import AlertStore, action_name

    settings = services.settings
    alert = parse(body, provided_secret,
                  [settings.alert_intake_secret, settings.alert_intake_secret_next])
    actions = parse_rule_actions(settings.alert_rule_actions)
    e = alert.data.essentials
    if e.monitoringService == MONITORING_SERVICE:
        return IntakeResult(alert=None, ignored="sent by this app's own alert sinks")
    store = AlertStore(services.state)
    finding = to_finding(alert)
    key = payload_key(alert)
    current, _ = store.get(finding["kind"], finding["subject"])
    if current is not None and current.state == "Fired":
        pending, _ = services.state.read_json(action_name(current.id))
        if pending and pending.get("state") == "pending" and pending.get("payload") == key:
            log.info("azure monitor alert %s %s: sent again after its %s was not started; "
                     "starting it, not counting it", e.alertRule, e.monitorCondition,
                     pending["action"])
            return IntakeResult(alert=current.to_json(), action=pending["action"],
                                redelivered=True)
    note = apply_finding(store, finding, now, timedelta(seconds=settings.alert_cooldown_seconds),
                         source="azure-monitor")
    current, _ = store.get(finding["kind"], finding["subject"])
    action = "none"
    wanted = actions.get(e.alertRule.casefold(), "none")
    if wanted != "none" and e.monitorCondition == "Fired" and current and current.state == "Fired":
        done, _ = services.state.read_json(action_name(current.id))
        if (done or {}).get("state") != "started":
            action = wanted
            services.state.put(action_name(current.id), {
                "alertId": current.id, "action": action, "state": "pending", "payload": key,
                "requestedAt": now.isoformat()})
    log.info("azure monitor alert %s %s: %s, action %s", e.alertRule, e.monitorCondition,
             note["type"] if note else "recorded", action)
    return IntakeResult(alert=current.to_json() if current else None,
                        notifications=[note] if note else [], action=action)


def action_started(services, alert_id: str, action: str, runs: list[dict],
                   now: datetime) -> None:
    """The caller started the alert's action run(s): it is not asked for again. With no
    run (no batch of that kind yet) it stays pending, for the alert's next firing."""
    from shared.alerts.store import action_name

    if not runs:
        return
    services.state.put(action_name(alert_id), {
        "alertId": alert_id, "action": action, "state": "started", "startedAt": now.isoformat(),
        "runs": [r.get("batchId") for r in runs]})
