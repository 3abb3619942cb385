"""What each sink receives, as pure functions of a notification.

- Generic webhook: the Azure Monitor common alert schema layout (`schemaId`,
  `data.essentials`, `data.alertContext`, `data.customProperties`), field names as in
  Microsoft's published samples; signed with HMAC-SHA256 over the exact body bytes in
  `X-Glue-Signature: sha256=<hex>` when ALERT_WEBHOOK_SECRET is set.
- Microsoft Teams: a message with one Adaptive Card attachment.
- Slack incoming webhook: `text` (the fallback) and Block Kit `blocks`.
"""
from __future__ import annotations

import hashlib
import hmac
import json

MONITORING_SERVICE = "adf-ml-glue"
SIGNATURE_HEADER = "X-Glue-Signature"
NOTIFICATION_HEADER = "X-Glue-Notification-Id"

# Our checks are metric-like (numbers against thresholds) or log-like (run events).
_SIGNAL = {"run_failed": "Log", "run_timed_out": "Log", "run_stuck": "Log",
           "external_run_failed": "Log", "external_run_slow": "Log"}


def _title(note: dict) -> str:
    a = note["alert"]
    verb = {"Fired": "FIRED", "Repeat": "STILL FIRING", "Escalated": "ESCALATED",
            "Resolved": "RESOLVED"}.get(note["type"], note["type"])
    return f"[{a['severity']}] {verb}: {a['kind']} on {a['subject']}"


def _links(note: dict) -> dict:
    return {k: v for k, v in (note["alert"].get("links") or {}).items()
            if isinstance(v, str) and v.startswith(("https://", "http://"))}


def common_alert_payload(note: dict, target_ids: list[str] | tuple = ()) -> dict:
    a = note["alert"]
    resolved = note["monitorCondition"] == "Resolved"
    ctx = a.get("context") or {}
    targets = list(ctx.get("alertTargetIDs") or target_ids or [])
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": a["id"],
                "alertRule": a["kind"],
                "severity": a["severity"],
                "signalType": ctx.get("signalType") or _SIGNAL.get(a["kind"], "Metric"),
                "monitorCondition": note["monitorCondition"],
                "monitoringService": MONITORING_SERVICE,
                "alertTargetIDs": targets,
                "configurationItems": [a["subject"]],
                "originAlertId": f"{a['kind']}/{a['subject']}",
                "firedDateTime": a["firstSeen"],
                "resolvedDateTime": a.get("resolvedAt") if resolved else None,
                "description": a.get("summary") or "",
                "essentialsVersion": "1.0",
                "alertContextVersion": "1.0",
            },
            "alertContext": {
                "notificationId": note["id"],
                "notificationType": note["type"],
                "kind": a["kind"],
                "subject": a["subject"],
                "status": a.get("status"),
                "source": a.get("source"),
                "count": a.get("count"),
                "firstSeen": a["firstSeen"],
                "lastSeen": a["lastSeen"],
                "context": ctx,
                "links": a.get("links") or {},
            },
            "customProperties": None,
        },
    }


def _facts(note: dict) -> list[tuple[str, str]]:
    a = note["alert"]
    facts = [("Kind", a["kind"]), ("Subject", a["subject"]), ("Severity", a["severity"]),
             ("First seen", a["firstSeen"]), ("Last seen", a["lastSeen"]),
             ("Count", str(a.get("count")))]
    if a.get("resolvedAt"):
        facts.append(("Resolved", a["resolvedAt"]))
    return facts


def teams_payload(note: dict) -> dict:
    resolved = note["monitorCondition"] == "Resolved"
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
             "color": "Good" if resolved else "Attention", "text": _title(note)},
            {"type": "TextBlock", "wrap": True, "text": note["alert"].get("summary") or ""},
            {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in _facts(note)]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": name, "url": url}
                    for name, url in _links(note).items()],
    }
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": None, "content": card}]}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(note: dict) -> dict:
    title = _title(note)
    summary = _slack_escape(note["alert"].get("summary") or "")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": summary[:3000] or " "}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{t}*\n{_slack_escape(v)}"}
                                       for t, v in _facts(note)][:10]},
    ]
    links = _links(note)
    if links:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": name[:75]}, "url": url}
            for name, url in list(links.items())[:25]]})
    return {"text": f"{title}: {note['alert'].get('summary') or ''}"[:3000], "blocks": blocks}


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(body: bytes, secret: str) -> str:
    """The signature header value for `body`: sha256=<hex HMAC-SHA256>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return bool(header) and hmac.compare_digest(sign(body, secret), header)
