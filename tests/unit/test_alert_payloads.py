"""Sink payloads: common alert schema layout, Teams Adaptive Card, Slack blocks, signing."""
import json
from datetime import UTC, datetime, timedelta

from shared.alerts import decide
from shared.alerts.payloads import (
    common_alert_payload,
    encode,
    sign,
    slack_payload,
    teams_payload,
    verify_signature,
)
from shared.alerts.sinks import Sink, configured_sinks, render
from shared.settings import load_settings

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BASE = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
FINDING = {"kind": "run_failed", "subject": "pipeline:train_and_score", "severity": "Sev1",
           "firing": True, "status": "alert", "summary": "run b1 failed in Train: <OOM> & more",
           "context": {"batchId": "b1"}}
LINKS = {"run": "https://glue.example/api/runs/b1", "adfRunId": "1234"}


def notes():
    alert, fired = decide(None, FINDING, T0, 3600, links=LINKS)
    _, resolved = decide(alert, {**FINDING, "firing": False, "status": "ok",
                                 "summary": "run b2 succeeded"}, T0 + timedelta(hours=1), 3600)
    return fired, resolved


ESSENTIALS = {"alertId", "alertRule", "severity", "signalType", "monitorCondition",
              "monitoringService", "alertTargetIDs", "configurationItems", "originAlertId",
              "firedDateTime", "resolvedDateTime", "description", "essentialsVersion",
              "alertContextVersion"}


def test_common_alert_schema_layout():
    fired, resolved = notes()
    p = common_alert_payload(fired, ["/subscriptions/s/resourceGroups/r/providers/"
                                     "Microsoft.DataFactory/factories/f"])
    assert p["schemaId"] == "azureMonitorCommonAlertSchema"
    e = p["data"]["essentials"]
    assert set(e) == ESSENTIALS
    assert (e["alertRule"], e["severity"], e["monitorCondition"], e["signalType"]) == (
        "run_failed", "Sev1", "Fired", "Log")
    assert e["monitoringService"] == "adf-ml-glue"
    assert e["alertTargetIDs"][0].endswith("/factories/f")
    assert e["firedDateTime"].startswith("2026-11-21T12:00:00") and e["resolvedDateTime"] is None
    assert (e["essentialsVersion"], e["alertContextVersion"]) == ("1.0", "1.0")
    ctx = p["data"]["alertContext"]
    assert ctx["context"] == {"batchId": "b1"} and ctx["links"] == LINKS
    assert ctx["notificationId"] == fired["id"]
    r = common_alert_payload(resolved)["data"]["essentials"]
    assert r["monitorCondition"] == "Resolved"
    assert r["resolvedDateTime"].startswith("2026-11-21T13:00:00")
    assert r["alertId"] == e["alertId"]  # Fired and Resolved of one alert share its id


def test_teams_adaptive_card():
    fired, resolved = notes()
    p = teams_payload(fired)
    assert p["type"] == "message"
    (att,) = p["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    title = card["body"][0]
    assert "FIRED" in title["text"] and title["color"] == "Attention"
    facts = {x["title"]: x["value"] for x in card["body"][2]["facts"]}
    assert facts["Subject"] == "pipeline:train_and_score"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "run", "url": LINKS["run"]}]
    assert teams_payload(resolved)["attachments"][0]["content"]["body"][0]["color"] == "Good"


def test_slack_blocks_escape_and_fallback():
    fired, _ = notes()
    p = slack_payload(fired)
    assert "run_failed" in p["text"]
    kinds = [b["type"] for b in p["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    assert p["blocks"][0]["text"]["type"] == "plain_text"
    assert "&lt;OOM&gt; &amp; more" in p["blocks"][1]["text"]["text"]
    assert p["blocks"][3]["elements"][0]["url"] == LINKS["run"]


def test_signature_over_exact_body_bytes():
    body = encode({"a": 1})
    sig = sign(body, "s3cret")
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_signature(body, sig, "s3cret")
    assert not verify_signature(body + b" ", sig, "s3cret")
    assert not verify_signature(body, sig, "other")
    assert not verify_signature(body, None, "s3cret")


def test_render_signs_only_the_generic_webhook_when_a_secret_is_set():
    fired, _ = notes()
    s = load_settings({**BASE, "ALERT_WEBHOOK_SECRET": "k"})
    body, headers = render(Sink("webhook-1", "webhook", "https://h/x"), fired, s)
    assert verify_signature(body, headers["X-Glue-Signature"], "k")
    assert json.loads(body)["schemaId"] == "azureMonitorCommonAlertSchema"
    _, teams_headers = render(Sink("teams", "teams", "https://h/t"), fired, s)
    assert "X-Glue-Signature" not in teams_headers
    _, unsigned = render(Sink("webhook-1", "webhook", "https://h/x"), fired, load_settings(BASE))
    assert "X-Glue-Signature" not in unsigned


def test_sinks_from_settings_and_their_redacted_targets():
    s = load_settings({**BASE, "ALERT_WEBHOOK_URLS": "https://a.example/hook?code=SECRET, "
                                                     "http://127.0.0.1:9/x",
                       "ALERT_TEAMS_WEBHOOK_URL": "https://t.example/workflows/SECRET",
                       "ALERT_SLACK_WEBHOOK_URL": ""})
    sinks = configured_sinks(s)
    assert [(x.id, x.kind) for x in sinks] == [("webhook-1", "webhook"), ("webhook-2", "webhook"),
                                               ("teams", "teams")]
    assert sinks[0].target == "https://a.example" and "SECRET" not in repr(sinks[0])
    assert configured_sinks(load_settings(BASE)) == []
