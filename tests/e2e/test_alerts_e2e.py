"""Issue 7 end to end on the local stack with a local webhook receiver: drift, rejected rows,
metric regression, freshness, a failing receiver and deduplication."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import module_stack, start_stack, wait_alerts

pytestmark = pytest.mark.slow


SECRET = "e2e-intake-secret"
stack = module_stack("alerts", {"EVENT_BATCH_WINDOW_SECONDS": "1", "ALERT_INTAKE_SECRET": SECRET,
                                "ALERT_RULE_ACTIONS": "drift-rule=retrain"})


def _run(stack, kind, rows, variant="clean", seed=0, name=None, **body) -> dict:
    blob = stack.land(kind, rows, variant, seed, name=name)
    started = stack.api.start({"files": [blob], **body})
    return stack.api.wait_for_run(started["runs"][0]["batchId"], timeout=240)


def test_a_champion_exists_first(stack):
    run = _run(stack, "labelled", 1000, seed=31, name="alerts-train")
    assert run["status"] == "succeeded" and run["outputs"]["Train"]["promoted"]


def test_drifted_batch_raises_signed_drift_alerts_and_a_clean_batch_resolves_them(stack):
    receiver = stack.stack.receiver
    drifted = _run(stack, "unlabelled", 600, "drifted", seed=32, name="alerts-drifted")
    assert drifted["status"] == "succeeded"
    kinds = {a["kind"] for a in drifted["alerts"] if a["type"] == "Fired"}
    assert {"prediction_drift", "feature_drift"} <= kinds
    for kind in ("prediction_drift", "feature_drift"):
        (fired,) = wait_alerts(receiver, kind, "Fired")
        assert fired["signatureValid"] is True
        assert fired["body"]["schemaId"] == "azureMonitorCommonAlertSchema"
    clean = _run(stack, "unlabelled", 600, "clean", seed=33, name="alerts-clean")
    assert clean["status"] == "succeeded"
    for kind in ("prediction_drift", "feature_drift"):
        (resolved,) = wait_alerts(receiver, kind, "Resolved")
        assert resolved["signatureValid"] is True
    open_alerts = stack.api.request("GET", "alerts").json()["alerts"]
    assert not [a for a in open_alerts if a["kind"] in ("prediction_drift", "feature_drift")]


def test_the_same_condition_on_three_runs_sends_one_alert(stack):
    receiver = stack.stack.receiver
    before = len(receiver.alerts("prediction_drift", "Fired"))
    runs = []
    for i in range(3):
        run = _run(stack, "unlabelled", 600, "drifted", seed=40 + i, name=f"alerts-dup-{i}")
        assert run["status"] == "succeeded"
        runs.append(run)
    # A finished run's record is written after its notifications were delivered (one write
    # with the terminal status), so these three records are the state to judge: one
    # notification among them, delivered, and the receiver got exactly that one.
    notes = [a for r in runs for a in r["alerts"] if a["kind"] == "prediction_drift"]
    assert len(notes) == 1 and notes[0]["type"] != "Resolved", notes
    # "ok", or "already delivered" when a retried finish_run found its own earlier claim
    assert notes[0]["delivery"] and all(v in ("ok", "already delivered")
                                        for v in notes[0]["delivery"].values()), notes
    assert len(receiver.alerts("prediction_drift", "Fired")) == before + 1
    (alert,) = [a for a in stack.api.request("GET", "alerts").json()["alerts"]
                if a["kind"] == "prediction_drift"]
    assert alert["count"] >= 3
    _run(stack, "unlabelled", 600, "clean", seed=44, name="alerts-dup-clean")  # resolve again


def test_many_malformed_rows_raise_a_rejected_rows_alert(stack):
    run = _run(stack, "unlabelled", 600, "malformed", seed=45, name="alerts-malformed")
    assert run["status"] == "succeeded"
    assert run["outputs"]["Preprocess"]["rowsRejected"] > 0
    wait_alerts(stack.stack.receiver, "rejected_rows", "Fired")


def test_a_regressed_model_raises_metric_regression_and_is_not_promoted(stack):
    run = _run(stack, "labelled", 600, seed=46, name="alerts-weak",
               trainOptions={"epochs": 1, "hiddenUnits": 2})
    assert run["status"] == "succeeded"
    assert run["outputs"]["Train"]["promoted"] is False
    assert run["outputs"]["Train"]["decision"] == "kept-champion"
    wait_alerts(stack.stack.receiver, "metric_regression", "Fired")


def test_a_receiver_that_fails_is_retried_and_does_not_block_the_run(stack):
    receiver = stack.stack.receiver
    receiver.fail_next = 2
    served_before = receiver.failures_served
    run = _run(stack, "unlabelled", 600, "drifted", seed=47, name="alerts-retry")
    assert run["status"] == "succeeded"
    assert receiver.failures_served == served_before + 2
    fired = [a for a in run["alerts"] if a["kind"] == "prediction_drift"]
    assert fired and all(v == "ok" for v in fired[0]["delivery"].values())
    wait_alerts(receiver, "prediction_drift", "Fired", at_least=2)


def test_alert_intake_over_http_records_forwards_and_acts_by_rule(stack):
    import json

    from tests.integration.alerts.samples import LOG_FIRED, METRIC_FIRED, resolved, without

    def post(payload, secret=SECRET, raw=None):
        return stack.api.request("POST", "alerts", data=raw or json.dumps(payload),
                                 headers={"X-Alert-Secret": secret} if secret else {})

    fired = post(LOG_FIRED)
    assert fired.status_code == 202, fired.text
    body = fired.json()
    assert body["action"] == "retrain" and body["notified"] == ["Fired"]
    (retrain,) = body["runs"]
    assert retrain["started"] and retrain["mode"] == "train-and-score"
    run = stack.api.wait_for_run(retrain["batchId"], timeout=240)
    assert run["status"] == "succeeded" and "Train" in run["outputs"]
    again = post(LOG_FIRED).json()  # the same alert again: counted, no second retrain
    assert again["action"] == "none" and "runs" not in again and again["count"] == 2
    forwarded = wait_alerts(stack.stack.receiver, "azure_monitor", "Fired")
    assert forwarded[-1]["signatureValid"] is True
    assert post(resolved(LOG_FIRED)).json()["notified"] == ["Resolved"]
    assert post(METRIC_FIRED).status_code == 202

    bad = post(without(METRIC_FIRED, "data", "essentials", "monitorCondition"))
    assert bad.status_code == 400 and "data.essentials.monitorCondition" in bad.json()["detail"]
    assert post(None, raw=b"{broken").status_code == 400
    assert post(None, raw=b" " * (256 * 1024 + 1)).status_code == 413
    forged = post(LOG_FIRED, secret="not-the-secret")
    assert forged.status_code == 401 and SECRET not in forged.text
    assert "Traceback" not in forged.text + bad.text
    listed = stack.api.request("GET", "alerts", params={"state": "all"}).json()["alerts"]
    assert any(a["kind"] == "azure_monitor" and a["state"] == "Resolved" for a in listed)


def test_a_sink_that_keeps_failing_shows_in_health_and_blocks_nothing(stack):
    receiver = stack.stack.receiver
    receiver.fail_next = 1000
    try:
        run = _run(stack, "unlabelled", 600, "drifted", seed=50, name="alerts-sink-down")
        run = _run(stack, "unlabelled", 600, "clean", seed=51, name="alerts-sink-down-2")
        assert run["status"] == "succeeded"
        assert any(v != "ok" for a in run["alerts"] for v in (a["delivery"] or {}).values())
        health = stack.api.request("GET", "health/details")
        assert health.status_code == 503
        sinks = health.json()["checks"]["alertSinks"]
        assert sinks["ok"] is False
        (sink,) = sinks["sinks"].values()
        assert sink["consecutiveFailures"] >= 1 and sink["lastError"]
    finally:
        receiver.fail_next = 0
    # Health recovers with the next successful delivery (drift fires again, then resolves).
    _run(stack, "unlabelled", 600, "drifted", seed=52, name="alerts-sink-up")
    assert stack.api.request("GET", "health/details").status_code == 200
    _run(stack, "unlabelled", 600, "clean", seed=53, name="alerts-sink-up-2")


@pytest.fixture(scope="module")
def fresh_stack(tmp_path_factory, stack):
    s = start_stack(tmp_path_factory, "freshness", {
        "FRESHNESS_DATA_MAX_AGE_HOURS": str(6 / 3600),  # six seconds
        "FRESHNESS_INTERVAL_SECONDS": "1",
        "EVENT_BATCH_WINDOW_SECONDS": "1",
    })
    yield s
    s.stack.stop()
    stack.stack.apply_to_environment()


def test_freshness_monitor_raises_data_stale_and_resolves_it_when_data_lands(fresh_stack):
    receiver = fresh_stack.stack.receiver
    blob = fresh_stack.land("unlabelled", 200, seed=48, name="fresh-1")
    wait_alerts(receiver, "data_stale", "Fired", timeout=90)  # the first file ages out
    fired = receiver.alerts("data_stale", "Fired")[0]["body"]["data"]["essentials"]
    assert fired["configurationItems"] == ["dataset:unlabelled"]
    fresh_stack.land("unlabelled", 200, seed=49, name="fresh-2")
    wait_alerts(receiver, "data_stale", "Resolved", timeout=60)
    assert blob
