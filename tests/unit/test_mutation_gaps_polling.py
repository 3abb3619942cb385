"""Poll backoff, how long a run waits and stage timings: the decisions mutation testing showed
unguarded (each assertion fails for a specific wrong rule)."""

import pytest

from shared.orchestration.polling import next_poll_interval, stages, wait_seconds


def test_backoff_doubles_is_capped_and_never_drops_below_base():
    assert next_poll_interval(False, 40, 30, 300) == 80  # doubles (not + or **)
    assert next_poll_interval(False, 10, 30, 300) == 30  # twice 10 is under the base
    assert next_poll_interval(False, 150, 30, 300) == 300  # exactly the maximum
    assert next_poll_interval(False, 160, 30, 300) == 300
    assert next_poll_interval(True, 160, 30, 300) == 30
    assert next_poll_interval(True, 10, 45, 300) == 45


def test_stages_keep_every_timing_field_and_put_unstarted_activities_last():
    acts = [{"name": "Score", "status": "Queued", "start": None},
            {"name": "Train", "status": "InProgress", "start": "2026-11-24T10:05:00",
             "end": None, "durationSeconds": None, "extra": 1},
            {"name": "Preprocess", "status": "Succeeded", "start": "2026-11-24T10:00:00",
             "end": "2026-11-24T10:04:00", "durationSeconds": 240.0},
            {"name": "Validate", "status": "Skipped"}]
    got = stages(acts)
    assert [s["name"] for s in got] == ["Preprocess", "Train", "Score", "Validate"]
    assert got[0] == {"name": "Preprocess", "status": "Succeeded",
                      "start": "2026-11-24T10:00:00", "end": "2026-11-24T10:04:00",
                      "durationSeconds": 240.0}
    assert got[2] == {"name": "Score", "status": "Queued", "start": None, "end": None,
                      "durationSeconds": None}
    assert stages([]) == []


def test_parallel_activities_are_ordered_by_their_own_start():
    acts = [{"name": "B", "status": "InProgress", "start": "2026-11-24T10:00:02"},
            {"name": "A", "status": "InProgress", "start": "2026-11-24T10:00:01"},
            {"name": "C", "status": "Succeeded", "start": "2026-11-24T09:59:59"}]
    assert [s["name"] for s in stages(acts)] == ["C", "A", "B"]


@pytest.mark.parametrize("tracking, interval, slowdown, expected", [
    ("watcher", 30, None, 900.0), ("watcher", 30, 2.0, 2 * 900.0),
    ("poll", 120, None, 120), ("poll", 120, 4.0, 480), (None, 60, 0.5, 60)])
def test_a_run_waits_for_its_safety_net_or_its_poll_interval_slowed_by_the_budget(
        tracking, interval, slowdown, expected):
    plan = {"tracking": tracking, "safetyNetSeconds": 900.0}
    assert wait_seconds(plan, interval, slowdown) == expected
