"""Alert state in real Azurite: dedup, resolve, idempotent retries, concurrency, listing."""
import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import AlertStore, list_alerts, process_findings
from shared.services import get_services

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def svc(app_env):
    """The services for this test's containers; clients built before any thread starts."""
    services = get_services()
    assert services.state.container.container_name == app_env["STATE_CONTAINER"]
    return services


def f(kind="run_failed", subject="pipeline:train_and_score", status="alert", severity="Sev1"):
    return {"kind": kind, "subject": subject, "severity": severity,
            "firing": status in ("warning", "alert"), "status": status, "summary": status,
            "context": {}}


def test_fire_count_resolve_and_list(svc):
    notes = process_findings(svc, [f(), f("run_slow", status="ok")], T0, {"run": "https://x/runs/1"})
    assert [n["type"] for n in notes] == ["Fired"]
    assert process_findings(svc, [f()], T0 + timedelta(minutes=5)) == []  # counted, not sent
    (open_,) = list_alerts(svc, open_only=True)
    assert (open_["count"], open_["state"], open_["links"]) == (2, "Fired",
                                                                {"run": "https://x/runs/1"})
    notes = process_findings(svc, [f(status="ok")], T0 + timedelta(hours=1))
    assert [n["type"] for n in notes] == ["Resolved"]
    assert list_alerts(svc, open_only=True) == []
    (recent,) = list_alerts(svc, open_only=False)
    assert recent["state"] == "Resolved" and recent["id"] == open_["id"]


def test_subjects_with_odd_characters_round_trip(svc):
    subject = "adf-pipeline:Copy data / nightly #2?"
    process_findings(svc, [f("external_run_failed", subject, severity="Sev2")], T0)
    assert list_alerts(svc)[0]["subject"] == subject


def test_same_findings_at_the_same_time_return_the_same_notifications(svc):
    first = process_findings(svc, [f(), f("data_stale", "dataset", severity="Sev2")], T0)
    again = process_findings(svc, [f(), f("data_stale", "dataset", severity="Sev2")], T0)
    assert len(first) == 2 and again == first
    (a, b) = sorted(list_alerts(svc), key=lambda x: x["kind"])
    assert a["count"] == b["count"] == 1


def test_insufficient_history_leaves_the_alert_open(svc):
    process_findings(svc, [f()], T0)
    assert process_findings(svc, [f(status="insufficient-history")], T0 + timedelta(hours=1)) == []
    assert list_alerts(svc)[0]["state"] == "Fired"


def test_complete_kinds_resolve_what_is_no_longer_reported(svc):
    process_findings(svc, [f("run_stuck", "run:b1"), f("run_stuck", "run:b2")], T0)
    notes = process_findings(svc, [f("run_stuck", "run:b2")], T0 + timedelta(minutes=15),
                             complete_kinds={"run_stuck"})
    assert [(n["type"], n["alert"]["subject"]) for n in notes] == [("Resolved", "run:b1")]
    assert [a["subject"] for a in list_alerts(svc)] == ["run:b2"]


def run_concurrently(n, fn):
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_writers_fire_once(svc):
    """Eight threads raise the same alert at nearly the same time: exactly one Fired. An
    observation older than one already saved is ignored, so the newest time always wins."""
    n = 8
    results = run_concurrently(n, lambda i: process_findings(svc, [f()], T0 + timedelta(seconds=i)))
    fired = [note for r in results for note in r]
    assert [note["type"] for note in fired] == ["Fired"]
    (alert,) = list_alerts(svc)
    assert 1 <= alert["count"] <= n
    assert alert["lastSeen"].startswith("2026-11-21T12:00:07")


def test_concurrent_retries_of_one_activity_agree_on_one_notification(svc):
    results = run_concurrently(6, lambda i: process_findings(svc, [f()], T0))
    ids = {note["id"] for r in results for note in r}
    assert len(ids) == 1
    assert list_alerts(svc)[0]["count"] == 1


def test_history_lists_newest_first_with_a_limit(svc):
    for i in range(3):
        process_findings(svc, [f(subject=f"pipeline:p{i}")], T0 + timedelta(hours=i))
        process_findings(svc, [f(subject=f"pipeline:p{i}", status="ok")],
                         T0 + timedelta(hours=i, minutes=30))
    listed = list_alerts(svc, open_only=False, limit=2)
    assert [a["subject"] for a in listed] == ["pipeline:p2", "pipeline:p1"]
    names = [b.name for b in AlertStore(svc.state).state.container.list_blobs(
        name_starts_with="alerts/history/")]
    assert len(names) == 3
