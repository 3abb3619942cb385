"""What each sink receives, as pure functions of a notification, and the webhook signature.

- Generic webhook: the Azure Monitor common alert schema layout (`schemaId`,
  `data.essentials`, `data.alertContext`, `data.customProperties`), field names as in
  Microsoft's published samples.
- Microsoft Teams: a message with one Adaptive Card attachment. Text that comes from
  outside (summaries, subjects, Azure Monitor rule names) is in RichTextBlock runs, which
  Adaptive Cards never read as Markdown, or backslash-escaped where only Markdown exists
  (facts), so it cannot make a link; the app's own links are OpenUrl actions.
- Slack incoming webhook: `text` (the fallback) and Block Kit `blocks`. Every text Slack
  parses (the fallback and mrkdwn) has `&`, `<`, `>` escaped as Slack documents, so nothing
  from outside becomes `<!channel>` or a link; the app's own links are buttons.

Signature (when ALERT_WEBHOOK_SECRET and/or ALERT_WEBHOOK_SECRET_NEXT is set), the scheme
the best-known webhook senders use:

    X-Glue-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>[,v1=...]

one `v1` per configured secret, so a receiver that knows either secret accepts it during a
rotation. The timestamp is signed with the body, so a captured request cannot be replayed
after the receiver's tolerance (`verify_signature`, five minutes by default).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from datetime import datetime

MONITORING_SERVICE = "adf-ml-glue"
SIGNATURE_HEADER = "X-Glue-Signature"
NOTIFICATION_HEADER = "X-Glue-Notification-Id"
SIGNATURE_TOLERANCE_SECONDS = 300

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


# What makes links and emphasis in the CommonMark subset Adaptive Cards read.
_MARKDOWN = re.compile(r"([\\`*_\[\]()<>~])")


def _teams_plain(text: str) -> str:
    """Backslash-escape Markdown punctuation (a CommonMark escape; FactSet values are read
    as Markdown), so `[x](https://...)` stays text."""
    return _MARKDOWN.sub(r"\\\1", text)


def _run_block(text: str, **style) -> dict:
    """Plain text as a RichTextBlock: its TextRuns are never read as Markdown."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def teams_payload(note: dict) -> dict:
    resolved = note["monitorCondition"] == "Resolved"
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            _run_block(_title(note), size="Medium", weight="Bolder",
                       color="Good" if resolved else "Attention"),
            _run_block(note["alert"].get("summary") or ""),
            {"type": "FactSet", "facts": [{"title": t, "value": _teams_plain(v)}
                                          for t, v in _facts(note)]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": name, "url": url}
                    for name, url in _links(note).items()],
    }
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                             "contentUrl": None, "content": card}]}


def slack_escape(text: str, limit: int | None = None) -> str:
    """Slack's control characters as the entities Slack documents (`&amp;`, `&lt;`, `&gt;`),
    cut to `limit` characters without splitting an entity."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is not None and len(out) > limit:
        out = re.sub(r"&[a-z]{0,3}$", "", out[:limit])
    return out


def slack_payload(note: dict) -> dict:
    title = _title(note)
    summary = note["alert"].get("summary") or ""
    blocks = [
        # plain_text is shown as it is: Slack parses no markup there
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(summary, 3000) or " "}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{t}*\n{slack_escape(v, 1900)}"}
                                       for t, v in _facts(note)][:10]},
    ]
    links = _links(note)
    if links:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": name[:75]}, "url": url}
            for name, url in list(links.items())[:25]]})
    fallback = slack_escape(f"{title}: {summary}" if summary else title, 3000)
    return {"text": fallback, "blocks": blocks}


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _secrets(secrets: str | Iterable[str | None] | None) -> list[str]:
    if secrets is None or isinstance(secrets, str):
        secrets = [secrets]
    return [x for x in secrets if x]


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secrets: str | Iterable[str | None], timestamp: int) -> str:
    """The X-Glue-Signature value for `body` sent at `timestamp` (unix seconds): one v1 per
    secret given (empty ones skipped)."""
    keys = _secrets(secrets)
    if not keys:
        raise ValueError("no signing secret")
    return ",".join([f"t={int(timestamp)}", *(f"v1={_mac(k, int(timestamp), body)}" for k in keys)])


def parse_signature(header: str | None) -> tuple[int | None, list[str]]:
    """(timestamp, v1 signatures) of a header value; (None, []) when it has no valid t."""
    timestamp, sigs = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and timestamp is None:
            timestamp = int(value)
        elif key == "v1" and value:
            sigs.append(value)
    return timestamp, sigs


def verify_signature(header: str | None, body: bytes, secrets: str | Iterable[str | None],
                     now: float | datetime, tolerance: float = SIGNATURE_TOLERANCE_SECONDS
                     ) -> bool:
    """What a receiver does: the timestamp within `tolerance` seconds of `now` (either way),
    and some v1 equal (constant-time) to the HMAC of `f"{t}.{body}"` under some secret."""
    timestamp, sigs = parse_signature(header)
    keys = _secrets(secrets)
    if timestamp is None or not sigs or not keys:
        return False
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(now_s - timestamp) > tolerance:
        return False
    expected = [_mac(k, timestamp, body) for k in keys]
    # every comparison is made, so the time taken says nothing about which one matched
    matches = [hmac.compare_digest(e, s) for e in expected for s in sigs]
    return any(matches)
