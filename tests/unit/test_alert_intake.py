"""Parsing and guarding Azure Monitor common-schema alerts (no storage needed)."""
import json

import pytest

from shared.alerts.intake import (
    MAX_BODY_BYTES,
    InvalidAlert,
    PayloadTooLarge,
    Unauthorized,
    parse,
    payload_key,
    to_finding,
)
from shared.settings import SettingsError, parse_rule_actions
from tests.integration.alerts.samples import LOG_FIRED, METRIC_FIRED, resolved, without


def body(p):
    return json.dumps(p).encode()


@pytest.mark.parametrize("payload", [METRIC_FIRED, LOG_FIRED, resolved(METRIC_FIRED),
                                     resolved(LOG_FIRED)])
def test_documented_payloads_parse(payload):
    alert = parse(body(payload))
    e = alert.data.essentials
    assert e.monitorCondition == payload["data"]["essentials"]["monitorCondition"]
    assert e.firedDateTime.tzinfo is not None
    assert alert.data.alertContext["conditionType"] in ("SingleResourceMultipleMetricCriteria",
                                                        "LogQueryCriteria")


def test_finding_from_a_metric_alert():
    f = to_finding(parse(body(METRIC_FIRED)))
    assert (f["kind"], f["subject"], f["severity"], f["firing"]) == (
        "azure_monitor", "adf-failed-runs@adf-ml-glue", "Sev2", True)
    assert f["context"]["alertContext"]["condition"]["allOf"][0]["metricValue"] == 2.0
    r = to_finding(parse(body(resolved(METRIC_FIRED))))
    assert (r["subject"], r["firing"], r["status"]) == (f["subject"], False, "ok")


@pytest.mark.parametrize("path,named", [
    (("data", "essentials", "monitorCondition"), "data.essentials.monitorCondition"),
    (("data", "essentials", "alertRule"), "data.essentials.alertRule"),
    (("data", "essentials"), "data.essentials"),
    (("schemaId",), "schemaId"),
])
def test_missing_fields_are_named(path, named):
    with pytest.raises(InvalidAlert) as e:
        parse(body(without(METRIC_FIRED, *path)))
    assert e.value.status == 400
    assert f"{named}: is required" in e.value.detail


def test_wrong_values_are_named_without_echoing_them():
    p = json.loads(body(METRIC_FIRED))
    p["data"]["essentials"]["monitorCondition"] = "Exploded-zz9"
    p["data"]["essentials"]["severity"] = "Sev9"
    with pytest.raises(InvalidAlert) as e:
        parse(body(p))
    assert "data.essentials.monitorCondition" in e.value.detail
    assert "data.essentials.severity" in e.value.detail
    assert "zz9" not in e.value.detail


def test_wrong_schema_id_and_non_json():
    p = json.loads(body(METRIC_FIRED))
    p["schemaId"] = "AzureMonitorMetricAlert"
    with pytest.raises(InvalidAlert, match="schemaId"):
        parse(body(p))
    with pytest.raises(InvalidAlert, match="not valid JSON"):
        parse(b"{nope")
    with pytest.raises(InvalidAlert, match="JSON object"):
        parse(b"[1, 2]")


def test_oversized_body_is_refused_before_anything_else():
    big = json.loads(body(LOG_FIRED))
    big["data"]["alertContext"]["padding"] = "x" * MAX_BODY_BYTES
    with pytest.raises(PayloadTooLarge) as e:
        parse(body(big), "wrong", "right")  # 413 wins over 401
    assert e.value.status == 413
    exact = json.loads(body(LOG_FIRED))
    exact["data"]["alertContext"]["padding"] = ""
    exact["data"]["alertContext"]["padding"] = "x" * (MAX_BODY_BYTES - len(body(exact)))
    assert len(body(exact)) == MAX_BODY_BYTES
    parse(body(exact))  # at the limit is fine


def test_secret_checked_in_constant_time_and_never_echoed():
    with pytest.raises(Unauthorized) as e:
        parse(body(METRIC_FIRED), "forged-secret", "real-secret")
    assert e.value.status == 401
    assert "secret" in e.value.detail and "real-secret" not in str(e.value.to_body())
    assert "forged-secret" not in str(e.value.to_body())
    with pytest.raises(Unauthorized):
        parse(body(METRIC_FIRED), None, "real-secret")
    with pytest.raises(Unauthorized):  # checked before the body is even parsed
        parse(b"{nope", "forged", "real-secret")
    assert parse(body(METRIC_FIRED), "real-secret", "real-secret")
    assert parse(body(METRIC_FIRED), None, None)  # no secret configured


def test_either_intake_secret_is_accepted_during_a_rotation():
    both = ["current-secret", "next-secret"]
    assert parse(body(METRIC_FIRED), "current-secret", both)
    assert parse(body(METRIC_FIRED), "next-secret", both)
    with pytest.raises(Unauthorized):
        parse(body(METRIC_FIRED), "old-secret", both)
    with pytest.raises(Unauthorized):
        parse(body(METRIC_FIRED), None, both)
    with pytest.raises(Unauthorized):
        parse(body(METRIC_FIRED), "", [None, "next-secret"])
    assert parse(body(METRIC_FIRED), "next-secret", [None, "next-secret"])  # NEXT alone
    assert parse(body(METRIC_FIRED), None, [None, ""])  # none configured


def test_a_redelivery_has_the_same_payload_key_and_a_new_firing_does_not():
    first = parse(body(LOG_FIRED))
    assert payload_key(first) == payload_key(parse(body(LOG_FIRED)))
    later = json.loads(body(LOG_FIRED))
    later["data"]["essentials"]["firedDateTime"] = "2026-11-21T12:15:00Z"
    assert payload_key(parse(body(later))) != payload_key(first)
    assert payload_key(parse(body(resolved(LOG_FIRED)))) != payload_key(first)


def test_rule_actions_both_forms():
    assert parse_rule_actions('{"Drift-Rule": "retrain", "x": "none"}') == {
        "drift-rule": "retrain", "x": "none"}
    assert parse_rule_actions("drift-rule=retrain; new-data=score;") == {
        "drift-rule": "retrain", "new-data": "score"}
    assert parse_rule_actions("") == {}


@pytest.mark.parametrize("text,msg", [("a=explode", "must be one of"), ("{bad", "JSON"),
                                      ("justaname", "rule=action"), ('["a"]', "object")])
def test_rule_actions_errors_name_the_setting(text, msg):
    with pytest.raises(SettingsError) as e:
        parse_rule_actions(text)
    assert "ALERT_RULE_ACTIONS" in str(e.value) and msg in str(e.value)
