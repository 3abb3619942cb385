"""Delivery at least once, each sink once: retries across monitor cycles, give-up, leases,
order, against real local receivers with the delivery state in real Azurite."""
import json
import threading
import time
from datetime import UTC, datetime, timedelta

from shared.alerts import deliver, list_alerts, process_findings, retry_deliveries, sink_health
from shared.alerts import delivery_state as ds
from shared.alerts.payloads import verify_signature
from shared.alerts.store import delivery_name, outbox_name
from shared.markers import newest_data, raise_marker
from shared.monitoring.freshness import check_freshness
from shared.services import get_services

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CYCLE = timedelta(seconds=300)  # the monitor's default interval
FINDING = {"kind": "dataset_drift", "subject": "dataset:unlabelled", "severity": "Sev2",
           "firing": True, "status": "alert", "summary": "62% of features drifted",
           "context": {"driftedShare": 0.62}}


def no_sleep(seconds):  # backoff waits are counted by the receiver, not slept
    pass


def configure(settings_env, path, receiver, **values):
    settings_env.setenv("ALERT_WEBHOOK_URLS", receiver.url + path)
    settings_env.setenv("ALERT_DELIVERY_BACKOFF_SECONDS", "1")
    for k, v in values.items():
        settings_env.setenv(k, v)
    return get_services()


def ids(requests) -> list[str]:
    return [r["headers"]["X-Glue-Notification-Id"] for r in requests]


def conditions(requests) -> list[str]:
    return [json.loads(r["body"])["data"]["essentials"]["monitorCondition"] for r in requests]


def test_a_sink_down_for_three_cycles_gets_the_alert_once_when_it_comes_back(
        app_env, settings_env, receiver):
    svc = configure(settings_env, "/hook", receiver, ALERT_DELIVERY_ATTEMPTS="2",
                    ALERT_WEBHOOK_SECRET="shh")
    receiver.script["/hook"] = [(503, {})] * (2 + 3) + [(200, {})]  # then up for good
    (note,) = process_findings(svc, [FINDING], T0)
    first = deliver(svc, [note], T0, sleep=no_sleep)
    assert first == {note["id"]: {"webhook-1": "failed: HTTP 503"}}
    (alert,) = list_alerts(svc)
    assert alert["delivery"] == {"webhook-1": "retrying"}
    for cycle in (1, 2, 3):  # three monitor cycles with the sink still down
        report = retry_deliveries(svc, T0 + cycle * CYCLE, sleep=no_sleep)
        assert report == {note["id"]: {"webhook-1": "failed: HTTP 503"}}, cycle
        health = sink_health(svc, T0 + cycle * CYCLE)
        sink = health["sinks"]["webhook-1"]
        assert not health["ok"] and "webhook-1" in health["detail"]
        assert sink["undelivered"]["retrying"] == 1
        assert sink["undelivered"]["notifications"][0]["alertId"] == note["alert"]["id"]
    assert retry_deliveries(svc, T0 + 4 * CYCLE) == {note["id"]: {"webhook-1": "ok"}}
    for cycle in (5, 6):  # later cycles owe nothing
        assert retry_deliveries(svc, T0 + cycle * CYCLE) == {}
    got = receiver.to("/hook")
    assert len(got) == 2 + 3 + 1 and set(ids(got)) == {note["id"]}
    delivered = got[-1]
    assert verify_signature(delivered["headers"]["X-Glue-Signature"], delivered["body"],
                            ["shh"], time.time())
    (alert,) = list_alerts(svc)
    assert alert["delivery"] == {"webhook-1": "delivered"}
    health = sink_health(svc, T0 + 6 * CYCLE)
    assert health["ok"] and health["sinks"]["webhook-1"]["undelivered"]["retrying"] == 0
    assert health["sinks"]["webhook-1"]["delivered"] == 1
    assert health["sinks"]["webhook-1"]["failedAttempts"] == 5
    assert svc.state.read_json(outbox_name(note["id"])) == (None, None)  # nothing owed


def test_a_sink_down_past_the_give_up_time_shows_gave_up(app_env, settings_env, receiver):
    svc = configure(settings_env, "/down", receiver, ALERT_DELIVERY_ATTEMPTS="1",
                    ALERT_DELIVERY_GIVE_UP_SECONDS="3600")
    receiver.script["/down"] = [(500, {})]
    (note,) = process_findings(svc, [FINDING], T0)
    deliver(svc, [note], T0, sleep=no_sleep)
    assert retry_deliveries(svc, T0 + CYCLE)[note["id"]] == {"webhook-1": "failed: HTTP 500"}
    gave_up_at = T0 + timedelta(seconds=3600)
    assert retry_deliveries(svc, gave_up_at)[note["id"]] == {"webhook-1": "gave up: HTTP 500"}
    (alert,) = list_alerts(svc)
    assert alert["delivery"] == {"webhook-1": "gave_up"}
    health = sink_health(svc, gave_up_at)
    sink = health["sinks"]["webhook-1"]
    assert not health["ok"] and not sink["ok"] and "webhook-1" in health["detail"]
    assert sink["undelivered"]["gave_up"] == 1 and sink["givenUp"] == 1
    assert sink["undelivered"]["notifications"][0]["state"] == "gave_up"
    sent = len(receiver.to("/down"))
    retry_deliveries(svc, gave_up_at + CYCLE)
    assert len(receiver.to("/down")) == sent == 3  # given up: never tried again
    # shown for one more give-up period, then the outbox forgets it; the record stays
    later = gave_up_at + timedelta(seconds=3601)
    retry_deliveries(svc, later)
    assert svc.state.read_json(outbox_name(note["id"])) == (None, None)
    assert sink_health(svc, later)["sinks"]["webhook-1"]["undelivered"]["gave_up"] == 0
    assert list_alerts(svc)[0]["delivery"] == {"webhook-1": "gave_up"}


def test_two_concurrent_deliverers_send_once(app_env, settings_env, receiver):
    """One deliverer is mid-send (the receiver holds its answer); a monitor cycle and a
    retried activity deliver the same notification meanwhile: neither sends."""
    svc = configure(settings_env, "/slow", receiver)
    gate = receiver.gates["/slow"] = threading.Event()
    (note,) = process_findings(svc, [FINDING], T0)
    first: dict = {}
    sender = threading.Thread(target=lambda: first.update(deliver(svc, [note], T0)))
    sender.start()
    try:
        receiver.wait_for("/slow", 1)  # the first deliverer holds the lease and is sending
        assert retry_deliveries(svc, T0 + timedelta(seconds=1)) == {
            note["id"]: {"webhook-1": "waiting: being sent by another deliverer"}}
        again = deliver(svc, process_findings(svc, [FINDING], T0), T0 + timedelta(seconds=2))
        assert again == {note["id"]: {"webhook-1": "waiting: being sent by another deliverer"}}
    finally:
        gate.set()
        sender.join()
    assert first == {note["id"]: {"webhook-1": "ok"}}
    assert deliver(svc, [note], T0 + timedelta(seconds=3)) == {
        note["id"]: {"webhook-1": "already delivered"}}
    assert retry_deliveries(svc, T0 + CYCLE) == {}
    assert len(receiver.to("/slow")) == 1


def test_a_lease_left_by_a_crash_expires_and_the_notification_goes_once_more(
        app_env, settings_env, receiver):
    svc = configure(settings_env, "/hook", receiver)
    (note,) = process_findings(svc, [FINDING], T0)
    sinks = ["webhook-1"]
    svc.state.create(outbox_name(note["id"]), {"notification": note, "createdAt": T0.isoformat()})
    svc.state.update(delivery_name(note["id"]), lambda _: ds.new_record(note, sinks, T0))
    # a deliverer took the lease, then died before (or after) its POST
    svc.state.update(delivery_name(note["id"]),
                     lambda r: ds.take_lease(r, "webhook-1", "crashed", T0, 90))
    assert retry_deliveries(svc, T0 + timedelta(seconds=60)) == {
        note["id"]: {"webhook-1": "waiting: being sent by another deliverer"}}
    assert receiver.to("/hook") == []
    assert retry_deliveries(svc, T0 + timedelta(seconds=90)) == {note["id"]: {"webhook-1": "ok"}}
    assert ids(receiver.to("/hook")) == [note["id"]]  # the same id: receivers dedupe by it


def test_a_resolved_waits_for_its_fired_and_both_arrive_in_order(app_env, settings_env,
                                                                  receiver):
    svc = configure(settings_env, "/hook", receiver, ALERT_DELIVERY_ATTEMPTS="1")
    receiver.script["/hook"] = [(500, {}), (200, {})]
    (fired,) = process_findings(svc, [FINDING], T0)
    deliver(svc, [fired], T0, sleep=no_sleep)
    (resolved,) = process_findings(svc, [{**FINDING, "firing": False, "status": "ok"}],
                                   T0 + timedelta(minutes=1))
    assert resolved["type"] == "Resolved"
    held = deliver(svc, [resolved], T0 + timedelta(minutes=1))
    assert held == {resolved["id"]: {"webhook-1": f"waiting: behind {fired['id']}"}}
    assert len(receiver.to("/hook")) == 1  # the Resolved was not sent before its Fired
    report = retry_deliveries(svc, T0 + CYCLE)
    assert report == {fired["id"]: {"webhook-1": "ok"}, resolved["id"]: {"webhook-1": "ok"}}
    assert conditions(receiver.to("/hook")) == ["Fired", "Fired", "Resolved"]
    assert ids(receiver.to("/hook"))[1:] == [fired["id"], resolved["id"]]


def test_a_sink_that_answers_again_gets_its_backlog_with_the_next_delivery(
        app_env, settings_env, receiver):
    svc = configure(settings_env, "/hook", receiver, ALERT_DELIVERY_ATTEMPTS="1")
    receiver.script["/hook"] = [(500, {}), (200, {})]
    (old,) = process_findings(svc, [FINDING], T0)
    deliver(svc, [old], T0, sleep=no_sleep)
    assert not sink_health(svc, T0)["ok"]
    (new,) = process_findings(svc, [{**FINDING, "kind": "feature_drift"}],
                                T0 + timedelta(seconds=1))
    report = deliver(svc, [new], T0 + timedelta(seconds=1))
    assert report == {new["id"]: {"webhook-1": "ok"}}
    assert ids(receiver.to("/hook")) == [old["id"], new["id"], old["id"]]
    assert sink_health(svc, T0 + timedelta(seconds=1))["ok"]
    assert {a["kind"]: a["delivery"] for a in list_alerts(svc)} == {
        "dataset_drift": {"webhook-1": "delivered"}, "feature_drift": {"webhook-1": "delivered"}}


def test_a_retried_monitor_cycle_sends_nothing_twice(app_env, settings_env, receiver):
    svc = configure(settings_env, "/hook", receiver, ALERT_DELIVERY_ATTEMPTS="2")
    raise_marker(svc.state, newest_data("labelled"), T0 - timedelta(hours=30))
    receiver.script["/hook"] = [(503, {}), (503, {}), (200, {})]
    first = check_freshness(svc, T0)  # the activity's first attempt: the sink is down
    again = check_freshness(svc, T0)  # the Durable retry of the same cycle, same time
    assert first["notifications"] == again["notifications"] == 1
    assert len(receiver.to("/hook")) == 2  # the retry neither re-sent nor re-tried early
    check_freshness(svc, T0 + CYCLE)  # the next cycle delivers
    check_freshness(svc, T0 + CYCLE)  # and its retry sends nothing
    check_freshness(svc, T0 + 2 * CYCLE)
    got = receiver.to("/hook")
    assert len(got) == 3 and len(set(ids(got))) == 1
    assert conditions(got) == ["Fired"] * 3
    (alert,) = list_alerts(svc)
    assert alert["kind"] == "data_stale" and alert["delivery"] == {"webhook-1": "delivered"}


def test_a_sink_taken_out_of_the_settings_is_given_up_not_retried(app_env, settings_env,
                                                                    receiver):
    svc = configure(settings_env, "/hook", receiver, ALERT_DELIVERY_ATTEMPTS="1",
                    ALERT_SLACK_WEBHOOK_URL=receiver.url + "/slack")
    receiver.script["/slack"] = [(500, {})]
    (note,) = process_findings(svc, [FINDING], T0)
    deliver(svc, [note], T0, sleep=no_sleep)
    settings_env.delenv("ALERT_SLACK_WEBHOOK_URL")
    svc = get_services()
    retry_deliveries(svc, T0 + CYCLE)
    assert list_alerts(svc)[0]["delivery"] == {"webhook-1": "delivered", "slack": "gave_up"}
    assert len(receiver.to("/slack")) == 1


def test_a_deliverer_that_died_after_the_outbox_write_loses_nothing(app_env, settings_env,
                                                                    receiver):
    svc = configure(settings_env, "/hook", receiver)
    (note,) = process_findings(svc, [FINDING], T0)
    # it wrote the outbox entry and died before making the record or sending anything
    svc.state.create(outbox_name(note["id"]), {"notification": note, "createdAt": T0.isoformat()})
    assert retry_deliveries(svc, T0 + CYCLE) == {note["id"]: {"webhook-1": "ok"}}
    assert ids(receiver.to("/hook")) == [note["id"]]
    assert list_alerts(svc)[0]["delivery"] == {"webhook-1": "delivered"}
