import threading
from datetime import UTC, datetime, timedelta

from shared.runs.records import RunRecords
from shared.services import get_services


def test_records_merge_updates_and_list_newest_first(app_env):
    rr = RunRecords(get_services().state)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(5):
        rr.update(f"b{i}", {"kind": "labelled" if i % 2 else "unlabelled", "status": "running",
                            "createdAt": (base + timedelta(hours=i)).isoformat()})
    rr.update("b3", {"status": "succeeded", "adfRunIds": ["r1"]})
    assert rr.get("b3")["kind"] == "labelled" and rr.get("b3")["adfRunIds"] == ["r1"]
    assert [r["batchId"] for r in rr.recent(3)] == ["b4", "b3", "b2"]
    assert [r["batchId"] for r in rr.recent(10, kind="labelled")] == ["b3", "b1"]
    assert [r["batchId"] for r in rr.recent(10, finished_only=True)] == ["b3"]
    assert sorted(r["batchId"] for r in rr.active()) == ["b0", "b1", "b2", "b4"]
    assert rr.get("missing") is None


def test_concurrent_updates_lose_nothing(app_env):
    rr = RunRecords(get_services().state)
    rr.update("c", {"status": "running"})
    threads = [threading.Thread(target=rr.update, args=("c", {f"k{i}": i})) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = rr.get("c")
    assert all(record[f"k{i}"] == i for i in range(8))
