"""Delivery to real local HTTP receivers, with state and health in real Azurite."""
import json
import threading
import time
from datetime import UTC, datetime

from shared.alerts import deliver, process_findings, sink_health
from shared.alerts.payloads import verify_signature
from shared.services import get_services

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FINDING = {"kind": "dataset_drift", "subject": "dataset:unlabelled", "severity": "Sev2",
           "firing": True, "status": "alert", "summary": "62% of features drifted",
           "context": {"driftedShare": 0.62}}


class Sleeps:
    """Records backoff waits instead of sleeping (no timing in tests)."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)


def configure(settings_env, **values):
    for k, v in values.items():
        settings_env.setenv(k, v)
    return get_services()


def test_retry_on_500_then_success_signed(app_env, settings_env, receiver):
    svc = configure(settings_env, ALERT_WEBHOOK_URLS=receiver.url + "/hook",
                  ALERT_WEBHOOK_SECRET="shh", ALERT_DELIVERY_BACKOFF_SECONDS="0.5")
    receiver.script["/hook"] = [(500, {}), (503, {}), (200, {})]
    notes = process_findings(svc, [FINDING], T0)
    sleeps = Sleeps()
    report = deliver(svc, notes, sleep=sleeps)
    assert report == {notes[0]["id"]: {"webhook-1": "ok"}}
    got = receiver.to("/hook")
    assert len(got) == 3 and sleeps.waits == [0.5, 1.0]
    last = got[-1]
    assert verify_signature(last["headers"]["X-Glue-Signature"], last["body"], ["shh"],
                            time.time())
    assert all(r["headers"]["X-Glue-Signature"].startswith("t=") for r in got)
    payload = json.loads(last["body"])
    assert payload["data"]["essentials"]["alertRule"] == "dataset_drift"
    assert last["headers"]["X-Glue-Notification-Id"] == notes[0]["id"]
    health = sink_health(svc)
    assert health["ok"] and health["sinks"]["webhook-1"]["consecutiveFailures"] == 0
    assert health["sinks"]["webhook-1"]["lastSuccessAt"]


def test_a_failing_sink_is_reported_and_does_not_stop_the_others(app_env, settings_env, receiver):
    svc = configure(settings_env,
                  ALERT_WEBHOOK_URLS=f"{receiver.url}/dead?code=SECRET,{receiver.url}/good",
                  ALERT_TEAMS_WEBHOOK_URL=receiver.url + "/teams",
                  ALERT_SLACK_WEBHOOK_URL=receiver.url + "/slack",
                  ALERT_DELIVERY_ATTEMPTS="3", ALERT_DELIVERY_BACKOFF_SECONDS="0")
    receiver.script["/dead?code=SECRET"] = [(500, {})]
    notes = process_findings(svc, [FINDING, {**FINDING, "kind": "feature_drift",
                                        "severity": "Sev3", "status": "warning"}], T0)
    report = deliver(svc, notes)
    for note in notes:
        assert report[note["id"]]["webhook-1"] == "failed: HTTP 500"
        assert {report[note["id"]][k] for k in ("webhook-2", "teams", "slack")} == {"ok"}
    # 3 tries for the first notification, then one for the next: the sink is known bad
    assert len(receiver.to("/dead?code=SECRET")) == 4
    assert len(receiver.to("/good")) == len(receiver.to("/teams")) == 2
    teams = json.loads(receiver.to("/teams")[0]["body"])
    assert teams["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "blocks" in json.loads(receiver.to("/slack")[0]["body"])
    health = sink_health(svc)
    dead = health["sinks"]["webhook-1"]
    assert not health["ok"] and not dead["ok"]
    assert (dead["consecutiveFailures"], dead["lastError"]) == (2, "HTTP 500")
    assert "SECRET" not in json.dumps(health)
    assert health["sinks"]["teams"]["ok"]


def test_connection_refused_is_a_failure_not_an_exception(app_env, settings_env):
    from devstack.ports import free_port

    svc = configure(settings_env, ALERT_SLACK_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x",
                  ALERT_DELIVERY_ATTEMPTS="2", ALERT_DELIVERY_BACKOFF_SECONDS="0")
    notes = process_findings(svc, [FINDING], T0)
    report = deliver(svc, notes)
    assert report[notes[0]["id"]]["slack"] == "failed: ConnectionError"
    assert sink_health(svc)["sinks"]["slack"]["lastError"] == "ConnectionError"


def test_429_retry_after_is_honoured_within_the_budget(app_env, settings_env, receiver):
    svc = configure(settings_env, ALERT_WEBHOOK_URLS=receiver.url + "/busy",
              ALERT_DELIVERY_BACKOFF_SECONDS="0.1", ALERT_DELIVERY_BUDGET_SECONDS="30")
    receiver.script["/busy"] = [(429, {"Retry-After": "2"}), (200, {})]
    sleeps = Sleeps()
    notes = process_findings(svc, [FINDING], T0)
    assert deliver(svc, notes, sleep=sleeps)[notes[0]["id"]]["webhook-1"] == "ok"
    assert sleeps.waits == [2.0]


def test_retry_after_beyond_the_budget_gives_up(app_env, settings_env, receiver):
    svc = configure(settings_env, ALERT_WEBHOOK_URLS=receiver.url + "/busy",
              ALERT_DELIVERY_BUDGET_SECONDS="5")
    receiver.script["/busy"] = [(429, {"Retry-After": "3600"}), (200, {})]
    sleeps = Sleeps()
    notes = process_findings(svc, [FINDING], T0)
    outcome = deliver(svc, notes, sleep=sleeps)[notes[0]["id"]]["webhook-1"]
    assert outcome.startswith("failed: HTTP 429") and "budget" in outcome
    assert sleeps.waits == [] and len(receiver.to("/busy")) == 1


def test_permanent_4xx_is_not_retried(app_env, settings_env, receiver):
    svc = configure(settings_env, ALERT_WEBHOOK_URLS=receiver.url + "/gone")
    receiver.script["/gone"] = [(404, {})]
    notes = process_findings(svc, [FINDING], T0)
    assert deliver(svc, notes)[notes[0]["id"]]["webhook-1"] == "failed: HTTP 404"
    assert len(receiver.to("/gone")) == 1


def test_a_notification_is_sent_once_however_often_it_is_delivered(app_env, settings_env,
                                                                    receiver):
    svc = configure(settings_env, ALERT_WEBHOOK_URLS=receiver.url + "/hook")
    barrier = threading.Barrier(4)
    reports = []

    def retried_activity():
        barrier.wait()
        reports.append(deliver(svc, process_findings(svc, [FINDING], T0)))

    threads = [threading.Thread(target=retried_activity) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(receiver.to("/hook")) == 1
    outcomes = [r["webhook-1"] for rep in reports for r in rep.values()]
    assert outcomes.count("ok") == 1
    # the others found it sent, or being sent under the winner's lease
    assert set(outcomes) - {"ok"} <= {"already delivered",
                                      "waiting: being sent by another deliverer"}
    assert sink_health(svc)["sinks"]["webhook-1"]["delivered"] == 1


def test_no_sinks_configured_is_healthy(app_env):
    svc = get_services()
    assert sink_health(svc) == {"ok": True, "configured": 0, "sinks": {}}
    notes = process_findings(svc, [FINDING], T0)
    assert deliver(svc, notes) == {notes[0]["id"]: {}}
