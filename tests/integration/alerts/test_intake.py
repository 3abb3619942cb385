"""Alert intake end to end below HTTP: record in Azurite, forward to a receiver, act by rule."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import deliver, list_alerts
from shared.alerts.intake import action_started, receive_alert
from shared.errors import Unauthorized
from shared.services import get_services
from tests.integration.alerts.samples import LOG_FIRED, METRIC_FIRED, resolved

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def intake_env(app_env, settings_env, receiver):
    settings_env.setenv("ALERT_WEBHOOK_URLS", receiver.url + "/hook")
    settings_env.setenv("ALERT_INTAKE_SECRET", "intake-secret")
    settings_env.setenv("ALERT_RULE_ACTIONS", "drift-rule=retrain;adf-failed-runs=none")
    return get_services().settings


def post(payload, at, secret="intake-secret"):
    return receive_alert(get_services(), json.dumps(payload).encode(), secret, at)


def test_log_alert_fires_once_triggers_its_action_once_and_resolves(intake_env, receiver):
    first = post(LOG_FIRED, T0)
    assert first.action == "retrain" and [n["type"] for n in first.notifications] == ["Fired"]
    assert first.alert["subject"] == "drift-rule@law-glue"
    assert first.alert["source"] == "azure-monitor"
    deliver(get_services(), first.notifications)
    # the caller started the run and said so (functions/alerts_api does)
    action_started(get_services(), first.alert["id"], "retrain", [{"batchId": "b"}], T0)
    # a stateless log alert fires again at the next evaluation: counted, no new run
    again = post(LOG_FIRED, T0 + timedelta(minutes=15))
    assert (again.action, again.notifications, again.alert["count"]) == ("none", [], 2)
    done = post(resolved(LOG_FIRED), T0 + timedelta(minutes=30))
    assert [n["type"] for n in done.notifications] == ["Resolved"] and done.action == "none"
    deliver(get_services(), done.notifications)
    assert list_alerts(get_services(), open_only=True) == []
    sent = [json.loads(r["body"]) for r in receiver.to("/hook")]
    assert [p["data"]["essentials"]["monitorCondition"] for p in sent] == ["Fired", "Resolved"]
    assert sent[0]["data"]["essentials"]["alertTargetIDs"] == LOG_FIRED["data"]["essentials"][
        "alertTargetIDs"]
    assert sent[0]["data"]["alertContext"]["context"]["alertContext"]["conditionType"] == (
        "LogQueryCriteria")


def test_metric_alert_with_no_action_and_a_resolved_without_fired(intake_env):
    orphan = post(resolved(METRIC_FIRED), T0)
    assert orphan.notifications == [] and orphan.alert is None
    fired = post(METRIC_FIRED, T0 + timedelta(minutes=1))
    assert fired.action == "none" and fired.alert["severity"] == "Sev2"
    assert fired.to_response()["notified"] == ["Fired"]
    (open_,) = list_alerts(get_services())
    assert open_["kind"] == "azure_monitor" and open_["context"]["signalType"] == "Metric"


def test_forged_secret_records_nothing(intake_env):
    with pytest.raises(Unauthorized):
        post(LOG_FIRED, T0, secret="forged")
    assert list_alerts(get_services(), open_only=False) == []


def test_our_own_alerts_coming_back_are_ignored(intake_env):
    own = json.loads(json.dumps(LOG_FIRED))
    own["data"]["essentials"]["monitoringService"] = "adf-ml-glue"
    result = post(own, T0)
    assert result.ignored and result.action == "none" and result.notifications == []
    assert list_alerts(get_services(), open_only=False) == []
