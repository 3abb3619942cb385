"""The dedup decision table of shared.alerts.decide, row by row."""
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import decide
from shared.alerts.decide import notification_for

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
COOL = timedelta(hours=4)


def f(status="alert", severity="Sev2", summary="bad", **ctx):
    return {"kind": "prediction_drift", "subject": "predictions", "severity": severity,
            "firing": status in ("warning", "alert"), "status": status, "summary": summary,
            "context": ctx}


def fire(at=T0, **kw):
    alert, note = decide(None, f(**kw), at, COOL)
    return alert, note


def test_first_firing_opens_an_alert_and_notifies():
    alert, note = fire(psi=0.3)
    assert (alert.state, alert.count, alert.first_seen, alert.notifications) == ("Fired", 1, T0, 1)
    assert (note["type"], note["monitorCondition"], note["id"]) == ("Fired", "Fired",
                                                                    f"{alert.id}-1")
    assert note["alert"]["context"] == {"psi": 0.3}


def test_repeat_within_cooldown_is_counted_not_sent():
    alert, _ = fire()
    again, note = decide(alert, f(summary="still bad"), T0 + timedelta(hours=1), COOL)
    assert note is None
    assert (again.count, again.summary, again.notifications) == (2, "still bad", 1)
    assert again.last_seen == T0 + timedelta(hours=1)


def test_repeat_after_cooldown_is_sent_as_repeat():
    alert, _ = fire()
    alert, _ = decide(alert, f(), T0 + timedelta(hours=1), COOL)
    later, note = decide(alert, f(), T0 + COOL, COOL)
    assert note["type"] == "Repeat" and note["monitorCondition"] == "Fired"
    assert (later.count, later.notifications, later.id) == (3, 2, alert.id)
    assert note["id"] == f"{alert.id}-2"


def test_escalation_is_sent_at_once_and_deescalation_is_not():
    alert, _ = fire(status="warning", severity="Sev3")
    worse, note = decide(alert, f(severity="Sev2"), T0 + timedelta(minutes=5), COOL)
    assert note["type"] == "Escalated" and worse.notified_severity == "Sev2"
    calmer, note = decide(worse, f(status="warning", severity="Sev3"),
                          T0 + timedelta(minutes=10), COOL)
    assert note is None and calmer.severity == "Sev3"
    again, note = decide(calmer, f(severity="Sev2"), T0 + timedelta(minutes=15), COOL)
    assert note is None  # Sev2 was already notified


def test_cleared_condition_resolves_once():
    alert, _ = fire()
    resolved, note = decide(alert, f(status="ok", summary="fine now"), T0 + timedelta(hours=1),
                            COOL)
    assert (resolved.state, note["type"], note["monitorCondition"]) == (
        "Resolved", "Resolved", "Resolved")
    assert resolved.resolved_at == T0 + timedelta(hours=1)
    assert note["alert"]["resolvedAt"] is not None
    again, note = decide(resolved, f(status="ok"), T0 + timedelta(hours=2), COOL)
    assert note is None and again is resolved


def test_ok_without_an_open_alert_does_nothing():
    assert decide(None, f(status="ok"), T0, COOL) == (None, None)


def test_insufficient_history_never_resolves():
    alert, _ = fire()
    same, note = decide(alert, f(status="insufficient-history"), T0 + timedelta(hours=1), COOL)
    assert same is alert and note is None


def test_firing_after_resolved_opens_a_new_alert():
    alert, _ = fire()
    resolved, _ = decide(alert, f(status="ok"), T0 + timedelta(hours=1), COOL)
    reopened, note = decide(resolved, f(), T0 + timedelta(hours=2), COOL)
    assert reopened.id != alert.id and reopened.count == 1 and note["type"] == "Fired"


def test_same_instant_again_replays_the_same_notification_and_changes_nothing():
    alert, note = fire()
    same, again = decide(alert, f(), T0, COOL)
    assert same is alert and again == note
    counted, _ = decide(alert, f(), T0 + timedelta(minutes=1), COOL)
    same, again = decide(counted, f(), T0 + timedelta(minutes=1), COOL)
    assert same is counted and again is None  # nothing was sent at that instant
    resolved, rnote = decide(alert, f(status="ok"), T0 + timedelta(hours=1), COOL)
    assert decide(resolved, f(status="ok"), T0 + timedelta(hours=1), COOL) == (resolved, rnote)


def test_older_observation_is_ignored():
    alert, _ = fire(at=T0 + timedelta(hours=1))
    assert decide(alert, f(status="ok"), T0, COOL) == (alert, None)


def test_alert_ids_are_deterministic_and_json_round_trips():
    a1, _ = fire()
    a2, _ = fire()
    assert a1.id == a2.id
    from shared.alerts import Alert

    assert Alert.from_json(a1.to_json()) == a1
    assert notification_for(a1)["alert"]["firstSeen"].startswith("2026-11-21T12:00:00")


def test_cooldown_may_be_given_in_seconds():
    alert, _ = fire()
    _, note = decide(alert, f(), T0 + timedelta(seconds=10), 10)
    assert note["type"] == "Repeat"


@pytest.mark.parametrize("links", [None, {"run": "https://x/api/runs/b1"}])
def test_links_are_kept_and_merged(links):
    alert, _ = decide(None, f(), T0, COOL, links=links)
    later, _ = decide(alert, f(), T0 + timedelta(minutes=1), COOL, links={"adf": "https://adf"})
    assert later.links == {**(links or {}), "adf": "https://adf"}
