"""The delivery record's pure decisions: due, lease, order, give up (no storage)."""
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import decide
from shared.alerts import delivery_state as ds

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DAY = 86400.0
FINDING = {"kind": "data_stale", "subject": "dataset:labelled", "severity": "Sev2",
           "firing": True, "status": "alert", "summary": "old", "context": {}}


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(sinks=("webhook-1", "slack")) -> dict:
    _, note = decide(None, FINDING, T0, 3600)
    return ds.new_record(note, list(sinks), T0)


def attempt(rec, ok, at, owner="me", attempts=1, error="HTTP 500", give_up=DAY, base=1.0):
    return ds.record_attempt(rec, "webhook-1", owner, ok=ok, attempts=attempts, error=error,
                             now=at, give_up_seconds=give_up, base_delay=base)


def leased_by(rec, owner, at, seconds=90):
    new = ds.take_lease(rec, "webhook-1", owner, at, seconds)
    return rec if new is None else new


def test_a_new_record_owes_every_sink_and_is_due_at_once():
    rec = record()
    assert ds.states(rec) == {"webhook-1": "retrying", "slack": "retrying"}
    assert ds.due(rec["sinks"]["webhook-1"], T0)
    assert not ds.due(rec["sinks"]["webhook-1"], s(-1))
    assert not ds.finished(rec) and not ds.all_delivered(rec)
    assert rec["notificationId"].endswith("-1") and rec["kind"] == "data_stale"


def test_only_one_of_two_deliverers_gets_the_lease():
    rec = record()
    mine = ds.take_lease(rec, "webhook-1", "a", T0, 90)
    assert ds.holds_lease(mine, "webhook-1", "a")
    # the second taker reads what the first wrote: no change, so it does not send
    assert ds.take_lease(mine, "webhook-1", "b", s(1), 90) is None
    assert not ds.holds_lease(mine, "webhook-1", "b")
    assert not ds.due(mine["sinks"]["webhook-1"], s(89))
    assert ds.leased(mine["sinks"]["webhook-1"], s(89))
    # the other sink has its own lease
    assert ds.take_lease(mine, "slack", "b", s(1), 90) is not None


def test_a_lease_left_by_a_crash_expires_and_the_send_is_retried():
    rec = leased_by(record(), "crashed", T0, 90)
    assert ds.take_lease(rec, "webhook-1", "next", s(89), 90) is None
    taken = ds.take_lease(rec, "webhook-1", "next", s(90), 90)
    assert ds.holds_lease(taken, "webhook-1", "next")


def test_success_delivers_and_a_delivered_sink_is_never_due_again():
    rec = attempt(leased_by(record(), "me", T0), True, s(1))
    e = rec["sinks"]["webhook-1"]
    assert (e["state"], e["attempts"], e["lease"], e["lastError"]) == ("delivered", 1, None, None)
    assert e["deliveredAt"] == s(1).isoformat()
    assert not ds.due(e, s(10**6))
    assert ds.take_lease(rec, "webhook-1", "other", s(10**6), 90) is None
    assert ds.states(rec) == {"webhook-1": "delivered", "slack": "retrying"}


@pytest.mark.parametrize("rounds,base,wait", [
    (1, 1.0, 2), (2, 1.0, 4), (3, 1.0, 8), (9, 1.0, 512), (10, 1.0, 900), (30, 1.0, 900),
    (1, 0.0, 0), (3, 0.2, 1.6)])
def test_retry_delay_doubles_per_failed_round_up_to_a_cap(rounds, base, wait):
    assert ds.retry_delay(rounds, base) == pytest.approx(wait)


def test_a_failure_schedules_the_next_try_and_releases_the_lease():
    rec = attempt(leased_by(record(), "me", T0), False, s(1), attempts=4, base=1.0)
    e = rec["sinks"]["webhook-1"]
    assert (e["state"], e["attempts"], e["rounds"], e["lease"]) == ("retrying", 4, 1, None)
    assert e["lastError"] == "HTTP 500" and e["nextTryAt"] == s(3).isoformat()
    assert not ds.due(e, s(2.9)) and ds.due(e, s(3))
    again = attempt(leased_by(rec, "me", s(3)), False, s(3))
    assert again["sinks"]["webhook-1"]["nextTryAt"] == s(7).isoformat()  # 2 rounds: 4 s


def test_a_failure_past_the_give_up_time_gives_up():
    rec = attempt(leased_by(record(), "me", s(DAY - 1)), False, s(DAY - 1))
    assert rec["sinks"]["webhook-1"]["state"] == "retrying"
    assert rec["sinks"]["webhook-1"]["nextTryAt"] == s(DAY + 1).isoformat()
    rec = attempt(leased_by(rec, "me", s(DAY + 1)), False, s(DAY + 1))
    e = rec["sinks"]["webhook-1"]
    assert (e["state"], e["gaveUpAt"]) == ("gave_up", s(DAY + 1).isoformat())
    assert not ds.due(e, s(2 * DAY))
    assert ds.overdue(rec, s(DAY), DAY) and not ds.overdue(rec, s(DAY - 1), DAY)


def test_a_failure_by_a_deliverer_that_lost_its_lease_only_adds_its_attempts():
    rec = leased_by(record(), "slow", T0, 90)
    rec = leased_by(rec, "next", s(90), 90)  # slow's lease expired, next took over
    after = attempt(rec, False, s(95), owner="slow", attempts=2)
    e = after["sinks"]["webhook-1"]
    assert ds.holds_lease(after, "webhook-1", "next") and e["rounds"] == 0
    assert e["attempts"] == 2 and e["state"] == "retrying"
    # a success counts whoever reports it: it happened
    won = attempt(rec, True, s(95), owner="slow")
    assert won["sinks"]["webhook-1"]["state"] == "delivered"


def test_nothing_sent_for_lack_of_time_only_releases_the_lease():
    rec = attempt(leased_by(record(), "me", T0), False, s(1), attempts=0, error="budget")
    e = rec["sinks"]["webhook-1"]
    assert (e["state"], e["attempts"], e["rounds"], e["lease"]) == ("retrying", 0, 0, None)
    assert ds.due(e, s(1))


def test_held_behind_an_earlier_notification_of_the_same_alert():
    assert ds.previous_id("abc-def-3") == "abc-def-2"
    assert ds.previous_id("abc-1") is None
    assert ds.sequence("a-b-12") == ("a-b", 12)
    earlier = record()
    assert ds.held(earlier, "webhook-1")
    delivered = attempt(leased_by(earlier, "me", T0), True, s(1))
    assert not ds.held(delivered, "webhook-1") and ds.held(delivered, "slack")
    gave_up = ds.give_up(earlier, "webhook-1", s(1), "gone")
    assert not ds.held(gave_up, "webhook-1")
    assert not ds.held(None, "webhook-1") and not ds.held(earlier, "teams")


def test_give_up_without_a_try_spares_a_live_lease_and_final_states():
    rec = record()
    gone = ds.give_up(rec, "slack", s(5), "sink no longer configured")
    assert gone["sinks"]["slack"]["state"] == "gave_up"
    assert gone["sinks"]["slack"]["lastError"] == "sink no longer configured"
    assert ds.give_up(gone, "slack", s(6), "again") is None
    assert ds.give_up(leased_by(rec, "me", s(5)), "webhook-1", s(6), "x") is None
    assert ds.give_up(rec, "teams", s(6), "x") is None


def test_finished_and_how_long_a_given_up_one_stays_visible():
    rec = attempt(leased_by(record(), "me", T0), True, s(1))
    assert not ds.finished(rec)
    done = ds.give_up(rec, "slack", s(100), "gone")
    assert ds.finished(done) and not ds.all_delivered(done)
    assert ds.shown_until(done, DAY) == s(100 + DAY)
    both = attempt(leased_by(record(("webhook-1",)), "me", T0), True, s(1))
    assert ds.all_delivered(both) and ds.shown_until(both, DAY) is None
    assert ds.shown_until(record(), DAY) is None  # not finished


def test_a_sink_that_answers_again_skips_the_backoff_but_never_a_live_lease():
    rec = attempt(leased_by(record(), "me", T0), False, s(1))  # next try at s(3)
    e = rec["sinks"]["webhook-1"]
    assert not ds.due(e, s(2)) and ds.due(e, s(2), eager=True)
    assert ds.take_lease(rec, "webhook-1", "drain", s(2), 90) is None
    taken = ds.take_lease(rec, "webhook-1", "drain", s(2), 90, eager=True)
    assert ds.holds_lease(taken, "webhook-1", "drain")
    assert ds.take_lease(taken, "webhook-1", "other", s(3), 90, eager=True) is None
    done = attempt(taken, True, s(3), owner="drain")
    assert not ds.due(done["sinks"]["webhook-1"], s(4), eager=True)
