import threading
from datetime import UTC, datetime, timedelta

from shared.runs.records import FINISHED, INDEX, RunRecords
from shared.services import get_services
from shared.settings import DEFAULT_FEED


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


def _listed_prefixes(monkeypatch, state) -> list[str]:
    """The prefixes `state` lists from now on (the listing is still Azurite's)."""
    prefixes, real = [], state.list

    def listing(prefix, **kw):
        prefixes.append(prefix)
        return real(prefix, **kw)

    monkeypatch.setattr(state, "list", listing)
    return prefixes


def _finish(rr, batch_id: str, created: datetime, kind: str = "labelled", **more) -> None:
    rr.update(batch_id, {"kind": kind, "status": "running", "createdAt": created.isoformat(),
                         **more})
    rr.update(batch_id, {"status": "succeeded"})


def test_finished_history_is_one_short_listing_however_many_runs_are_in_progress(
        app_env, monkeypatch):
    """The checks' history read: with 150 runs in progress (newer than every finished one),
    the newest finished runs of a feed and kind come from the finished-runs index alone."""
    state = get_services().state
    rr = RunRecords(state)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(6):
        _finish(rr, f"done{i}", base + timedelta(minutes=i))
    _finish(rr, "other-kind", base + timedelta(minutes=30), kind="unlabelled")
    _finish(rr, "other-feed", base + timedelta(minutes=31), feed="second")
    for i in range(150):
        rr.update(f"busy{i:03}", {"kind": "labelled", "status": "running",
                                  "createdAt": (base + timedelta(hours=1, seconds=i)).isoformat()})
    listed = _listed_prefixes(monkeypatch, state)
    got = rr.recent(4, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert [r["batchId"] for r in got] == ["done5", "done4", "done3", "done2"]
    assert listed == [f"{FINISHED}{DEFAULT_FEED}/labelled/"]
    assert [r["batchId"] for r in rr.recent(5, kind="labelled", finished_only=True,
                                            feed="second")] == ["other-feed"]


def test_runs_finished_before_the_finished_index_are_found_and_then_indexed(
        app_env, monkeypatch):
    """An upgrade: runs that finished before the finished-runs index existed have no entry
    there. The short index falls back to the main one (nothing missed), and enters what it
    found, so the next read needs no fallback. An entry out of date (a failed run rerun
    under its batch id is running again) is skipped."""
    state = get_services().state
    rr = RunRecords(state)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(4):
        _finish(rr, f"old{i}", base + timedelta(minutes=i))
    for blob in list(state.list(FINISHED)):  # as written by the version before the index
        state.delete(blob.name)
    _finish(rr, "new", base + timedelta(hours=1))
    listed = _listed_prefixes(monkeypatch, state)
    first = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert [r["batchId"] for r in first] == ["new", "old3", "old2"]
    assert listed == [f"{FINISHED}{DEFAULT_FEED}/labelled/", INDEX]
    listed.clear()
    assert rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED) == first
    assert listed == [f"{FINISHED}{DEFAULT_FEED}/labelled/"]

    # A rerun: the failed run starts again under its batch id; no longer history until it
    # ends again, and then with its new record, not a copy kept from before.
    rr.update("new", {"status": "running", "rerunOf": "adf-run-1"})
    again = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert [r["batchId"] for r in again] == ["old3", "old2", "old1"]
    rr.update("new", {"status": "succeeded", "outputs": {"Train": {"accuracy": 0.9}}})
    last = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert [r["batchId"] for r in last] == ["new", "old3", "old2"]
    assert last[0]["outputs"] == {"Train": {"accuracy": 0.9}}


def test_history_read_again_comes_from_memory_until_a_record_is_written(app_env,
                                                                         monkeypatch):
    """Many runs ending together are judged against the same newest finished runs: a second
    read of that history reads no record, and a record written since is read afresh. The
    copies handed out are the caller's to change."""
    state = get_services().state
    rr = RunRecords(state)
    base = datetime(2026, 11, 2, tzinfo=UTC)
    for i in range(3):
        _finish(rr, f"h{i}", base + timedelta(minutes=i))
    first = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    reads, real = [], rr.get
    monkeypatch.setattr(rr, "get", lambda batch_id: reads.append(batch_id) or real(batch_id))
    first[0]["status"] = "changed by a caller"
    again = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert [r["batchId"] for r in again] == ["h2", "h1", "h0"] and reads == []
    assert again[0]["status"] == "succeeded"
    RunRecords(state).update("h1", {"note": "written since"})
    third = rr.recent(3, kind="labelled", finished_only=True, feed=DEFAULT_FEED)
    assert reads == ["h1"] and third[1]["note"] == "written since"


def test_an_unfiltered_list_asks_for_a_page_the_size_of_its_answer(app_env, monkeypatch):
    """`GET /api/runs?limit=30` with 150 runs kept lists 30 index entries, not 100: its cost
    is that of the answer, however long the history grows."""
    state = get_services().state
    rr = RunRecords(state)
    base = datetime(2026, 11, 3, tzinfo=UTC)
    for i in range(5):
        rr.update(f"p{i}", {"kind": "labelled", "status": "running",
                            "createdAt": (base + timedelta(minutes=i)).isoformat()})
    pages, real = [], state.list
    monkeypatch.setattr(state, "list", lambda prefix, **kw: pages.append(
        kw.get("results_per_page")) or real(prefix, **kw))
    assert [r["batchId"] for r in rr.recent(2)] == ["p4", "p3"]
    assert [r["batchId"] for r in rr.recent(2, kind="labelled")] == ["p4", "p3"]
    assert pages == [2, 100]  # a filtered list may skip entries: it still reads whole pages


def test_a_finished_entry_lost_in_a_crash_comes_back_with_the_next_write(app_env):
    """The finished entry is put after the record on every write of a finished record: a
    crash between the two (the entry missing) is made up for by the next write, such as a
    retried `finish_run`."""
    state = get_services().state
    rr = RunRecords(state)
    _finish(rr, "crashed", datetime(2026, 11, 4, tzinfo=UTC))
    (entry,) = [b.name for b in state.list(FINISHED)]
    state.delete(entry)  # as if the process died between the record and its entry
    rr.update("crashed", {"status": "succeeded"})
    assert [b.name for b in state.list(FINISHED)] == [entry]
