"""Sink payloads: common alert schema layout, Teams Adaptive Card, Slack blocks, signing."""
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import decide
from shared.alerts.payloads import (
    common_alert_payload,
    encode,
    sign,
    slack_escape,
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
    assert title["type"] == "RichTextBlock"
    (run,) = title["inlines"]
    assert "FIRED" in run["text"] and run["color"] == "Attention"
    facts = {x["title"]: x["value"] for x in card["body"][2]["facts"]}
    assert facts["Subject"] == "pipeline:train\\_and\\_score"  # Markdown-escaped
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "run", "url": LINKS["run"]}]
    resolved_title = teams_payload(resolved)["attachments"][0]["content"]["body"][0]
    assert resolved_title["inlines"][0]["color"] == "Good"


def _evil_note():
    evil = {**FINDING, "subject": "rule [click](https://evil.example)@<!channel>",
            "summary": "<!channel> see <https://evil.example|the fix> & *now*"}
    alert, fired = decide(None, evil, T0, 3600, links=LINKS)
    return fired


def test_teams_outside_text_cannot_make_a_link():
    card = teams_payload(_evil_note())["attachments"][0]["content"]
    # free text sits in TextRuns, which Adaptive Cards never read as Markdown
    assert {b["type"] for b in card["body"][:2]} == {"RichTextBlock"}
    assert card["body"][1]["inlines"][0]["text"].startswith("<!channel> see <https://evil")
    facts = {x["title"]: x["value"] for x in card["body"][2]["facts"]}
    assert "](" not in facts["Subject"].replace("\\](", "")  # no unescaped link syntax
    assert facts["Subject"].startswith("rule \\[click\\]\\(https://evil.example\\)")
    assert facts["Severity"] == "Sev1"
    # the app's own links stay working: OpenUrl actions
    assert card["actions"][0]["url"] == LINKS["run"]


def test_slack_blocks_escape_and_fallback():
    fired, _ = notes()
    p = slack_payload(fired)
    assert "run_failed" in p["text"]
    kinds = [b["type"] for b in p["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    assert p["blocks"][0]["text"]["type"] == "plain_text"
    assert "&lt;OOM&gt; &amp; more" in p["blocks"][1]["text"]["text"]
    assert p["blocks"][3]["elements"][0]["url"] == LINKS["run"]
    assert p["text"].endswith("&lt;OOM&gt; &amp; more")  # the fallback too


def test_slack_escapes_every_text_it_parses_and_keeps_its_own_links():
    p = slack_payload(_evil_note())
    parsed = [p["text"], p["blocks"][1]["text"]["text"],
              *(f["text"] for f in p["blocks"][2]["fields"])]
    for text in parsed:  # the fallback and every mrkdwn text
        assert "<" not in text and ">" not in text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    assert "&lt;!channel&gt; see &lt;https://evil.example|the fix&gt; &amp;" in p["text"]
    assert "@&lt;!channel&gt;" in p["text"]  # the subject, in the fallback's title
    assert any("&lt;!channel&gt;" in f["text"] for f in p["blocks"][2]["fields"])
    # plain_text is shown as it is (Slack parses nothing there); the buttons link as built
    assert p["blocks"][0]["text"]["type"] == "plain_text"
    assert p["blocks"][3]["elements"][0]["url"] == LINKS["run"]


@pytest.mark.parametrize("limit", [1, 4, 5, 9, 10, 11])
def test_slack_escape_never_cuts_an_entity(limit):
    out = slack_escape("a&<b>" * 3, limit)
    assert len(out) <= limit and limit - len(out) <= len("&amp")
    assert slack_escape("a&<b>" * 3).startswith(out)
    assert not re.search(r"&[a-z]*$", out)  # no half entity at the end


# --- the signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")> ----------

T = 1_790_000_000  # unix seconds


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = encode({"a": 1})
    header = sign(body, "s3cret", T)
    expected = hmac.new(b"s3cret", f"{T}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"
    assert verify_signature(header, body, ["s3cret"], T + 10)
    assert verify_signature(header, body, "s3cret", T)  # one secret as a string too


def test_an_old_or_future_timestamp_is_refused():
    body = encode({"a": 1})
    header = sign(body, "s3cret", T)
    assert verify_signature(header, body, "s3cret", T + 300)
    assert not verify_signature(header, body, "s3cret", T + 301)  # a replay, too late
    assert not verify_signature(header, body, "s3cret", T - 301)  # from the future
    assert verify_signature(header, body, "s3cret", T + 3000, tolerance=3600)
    assert verify_signature(header, body, "s3cret", datetime.fromtimestamp(T + 60, UTC))


def test_a_tampered_body_or_timestamp_or_wrong_secret_is_refused():
    body = encode({"a": 1})
    header = sign(body, "s3cret", T)
    assert not verify_signature(header, body + b" ", "s3cret", T)
    assert not verify_signature(header, encode({"a": 2}), "s3cret", T)
    moved = header.replace(f"t={T}", f"t={T + 5}")  # a replay with a fresh timestamp
    assert not verify_signature(moved, body, "s3cret", T + 5)
    assert not verify_signature(header, body, "other", T)
    assert not verify_signature(header, body, [], T)
    for bad in (None, "", f"v1={header.split('v1=')[1]}", f"t=abc,{header.split(',')[1]}",
                f"t={T}", "sha256=" + "0" * 64):
        assert not verify_signature(bad, body, "s3cret", T), bad


def test_either_of_two_secrets_is_accepted_during_a_rotation():
    body = encode({"a": 1})
    both = sign(body, ["old", "new"], T)
    assert both.count("v1=") == 2
    assert verify_signature(both, body, ["old"], T)  # a receiver not yet moved
    assert verify_signature(both, body, ["new"], T)  # a receiver already moved
    assert not verify_signature(both, body, ["neither"], T)
    only_new = sign(body, [None, "new", ""], T)  # empty secrets are skipped
    assert only_new.count("v1=") == 1
    assert verify_signature(only_new, body, ["old", "new"], T)  # receiver accepts both
    assert not verify_signature(only_new, body, ["old"], T)
    with pytest.raises(ValueError):
        sign(body, [None, ""], T)


def test_any_of_several_v1_values_may_match_and_other_schemes_are_ignored():
    body = encode({"a": 1})
    good = sign(body, "k", T).split(",")[1]
    header = f"t={T},v0=deadbeef,v1={'0' * 64},{good}"
    assert verify_signature(header, body, "k", T)
    assert not verify_signature(f"t={T},v0={good[3:]}", body, "k", T)


def test_render_signs_only_the_generic_webhook_when_a_secret_is_set():
    fired, _ = notes()
    s = load_settings({**BASE, "ALERT_WEBHOOK_SECRET": "k"})
    body, headers = render(Sink("webhook-1", "webhook", "https://h/x"), fired, s, T)
    assert verify_signature(headers["X-Glue-Signature"], body, "k", T)
    assert headers["X-Glue-Notification-Id"] == fired["id"]
    assert json.loads(body)["schemaId"] == "azureMonitorCommonAlertSchema"
    _, teams_headers = render(Sink("teams", "teams", "https://h/t"), fired, s, T)
    assert "X-Glue-Signature" not in teams_headers
    _, unsigned = render(Sink("webhook-1", "webhook", "https://h/x"), fired, load_settings(BASE), T)
    assert "X-Glue-Signature" not in unsigned


def test_render_signs_with_both_secrets_during_a_rotation():
    fired, _ = notes()
    s = load_settings({**BASE, "ALERT_WEBHOOK_SECRET": "old", "ALERT_WEBHOOK_SECRET_NEXT": "new"})
    body, headers = render(Sink("webhook-1", "webhook", "https://h/x"), fired, s, T)
    sig = headers["X-Glue-Signature"]
    assert sig.startswith(f"t={T},") and sig.count("v1=") == 2
    assert verify_signature(sig, body, "old", T) and verify_signature(sig, body, "new", T)
    s = load_settings({**BASE, "ALERT_WEBHOOK_SECRET_NEXT": "new"})
    _, headers = render(Sink("webhook-1", "webhook", "https://h/x"), fired, s, T)
    assert headers["X-Glue-Signature"].count("v1=") == 1


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


def test_the_readme_receiver_snippet_verifies_what_the_app_signs():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2].joinpath("README.md").read_text()
    section = readme.split("### Verifying webhook signatures", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    verify = scope["verify"]
    body = encode({"a": 1})
    now = int(datetime.now(UTC).timestamp())
    assert verify(sign(body, ["old", "new"], now), body, ["new"])
    assert not verify(sign(body, "old", now), body + b" ", ["old"])
    assert not verify(sign(body, "old", now - 301), body, ["old"])
    assert not verify(sign(body, "old", now), body, ["other"])
