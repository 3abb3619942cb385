"""The alert decision table, the rows mutation testing found unguarded: exact cooldown
boundaries, a Repeat restarting the cooldown, what an update keeps and overwrites, and the
fields of the notification itself."""
from datetime import UTC, datetime, timedelta

from shared.alerts.decide import decide, notification_for
from shared.alerts.model import alert_id

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
COOL = timedelta(hours=4)


def f(status="alert", severity="Sev2", summary="bad", kind="prediction_drift", **ctx):
    return {"kind": kind, "subject": "predictions", "severity": severity,
            "firing": status in ("warning", "alert"), "status": status, "summary": summary,
            "context": ctx}


def test_a_repeat_restarts_the_cooldown():
    alert, _ = decide(None, f(), T0, COOL)
    repeated, note = decide(alert, f(), T0 + COOL, COOL)
    assert note["type"] == "Repeat" and repeated.last_notified_at == T0 + COOL
    quiet, note = decide(repeated, f(), T0 + COOL + COOL - timedelta(seconds=1), COOL)
    assert note is None and quiet.last_notified_at == T0 + COOL
    _, note = decide(quiet, f(), T0 + 2 * COOL, COOL)
    assert note["type"] == "Repeat"


def test_cooldown_boundary_one_second_short_is_silent():
    alert, _ = decide(None, f(), T0, COOL)
    _, note = decide(alert, f(), T0 + COOL - timedelta(seconds=1), COOL)
    assert note is None
    _, note = decide(alert, f(), T0 + COOL, 14400.0)
    assert note["type"] == "Repeat"


def test_new_alert_has_every_field_from_the_finding():
    alert, note = decide(None, f(status="warning", severity="Sev3", summary="s", psi=1),
                         T0, COOL, links={"run": "u"}, source="intake")
    assert alert.id == alert_id("prediction_drift", "predictions", T0)
    assert (alert.kind, alert.subject, alert.state, alert.source) == (
        "prediction_drift", "predictions", "Fired", "intake")
    assert (alert.severity, alert.status, alert.summary, alert.context) == (
        "Sev3", "warning", "s", {"psi": 1})
    assert (alert.first_seen, alert.last_seen, alert.last_notified_at) == (T0, T0, T0)
    assert (alert.count, alert.notifications, alert.notified_severity) == (1, 1, "Sev3")
    assert alert.last_notification == "Fired" and alert.links == {"run": "u"}
    assert note == {"id": f"{alert.id}-1", "type": "Fired", "monitorCondition": "Fired",
                    "alert": alert.to_json()}


def test_a_finding_without_status_or_summary_still_opens_an_alert():
    finding = {"kind": "k", "subject": "s", "severity": "Sev2", "firing": True}
    alert, _ = decide(None, finding, T0, COOL)
    assert (alert.status, alert.summary, alert.context) == ("alert", "", {})


def test_a_firing_update_overwrites_the_facts_and_keeps_the_history():
    alert, _ = decide(None, f(summary="first", psi=1), T0, COOL, source="checks")
    later, note = decide(alert, f(status="warning", severity="Sev3", summary="second", psi=2),
                         T0 + timedelta(minutes=5), COOL, source="other")
    assert note is None
    assert (later.severity, later.status, later.summary, later.context) == (
        "Sev3", "warning", "second", {"psi": 2})
    assert (later.id, later.first_seen, later.source, later.notified_severity) == (
        alert.id, T0, "checks", "Sev2")
    assert later.last_seen == T0 + timedelta(minutes=5) and later.last_notified_at == T0


def test_escalation_notes_the_new_severity_and_restarts_nothing_else():
    alert, _ = decide(None, f(status="warning", severity="Sev3"), T0, COOL)
    worse, note = decide(alert, f(severity="Sev1"), T0 + timedelta(minutes=1), COOL)
    assert (note["type"], note["id"], worse.notifications) == ("Escalated", f"{alert.id}-2", 2)
    assert worse.notified_severity == "Sev1" and worse.last_notification == "Escalated"
    same, note = decide(worse, f(severity="Sev1"), T0 + timedelta(minutes=2), COOL)
    assert note is None  # equal to what was told: not an escalation


def test_resolution_keeps_the_alert_and_records_what_resolved_it():
    alert, _ = decide(None, f(psi=1), T0, COOL, links={"run": "a"})
    done, note = decide(alert, f(status="ok", summary="", x=2), T0 + timedelta(hours=1), COOL,
                        links={"adf": "b"})
    assert done.summary == "bad"  # an empty summary keeps the last one
    assert done.context == {"psi": 1, "resolvedBy": {"x": 2}}
    assert done.links == {"run": "a", "adf": "b"}
    assert (done.last_seen, done.notified_severity, done.count) == (
        T0 + timedelta(hours=1), "Sev2", 1)
    assert (note["type"], note["monitorCondition"], note["id"]) == (
        "Resolved", "Resolved", f"{alert.id}-2")
    ok_no_ctx = {"kind": "prediction_drift", "subject": "predictions", "severity": "Sev4",
                 "firing": False, "status": "ok", "summary": "fine"}
    done, _ = decide(alert, ok_no_ctx, T0 + timedelta(hours=1), COOL)
    assert done.context == {"psi": 1, "resolvedBy": {}} and done.summary == "fine"


def test_notification_for_an_alert_never_notified_reads_as_fired():
    alert, _ = decide(None, f(), T0, COOL)
    fresh = alert.model_copy(update={"last_notification": None, "notifications": 0})
    note = notification_for(fresh)
    assert (note["type"], note["monitorCondition"], note["id"]) == (
        "Fired", "Fired", f"{alert.id}-0")


def test_alerts_from_the_checks_say_so_by_default():
    alert, _ = decide(None, f(), T0, COOL)
    assert alert.source == "checks"
