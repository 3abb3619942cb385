"""One look of the run watcher and the ARM budget, the parts mutation testing found
unguarded: which window a look asks for, who owns a run, what a look remembers of each run
(so later looks neither repeat nor miss a change), the refresh of stale stages, when a run
is forgotten, and how the budget reads ARM's header (each assertion fails for a specific
wrong rule)."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from shared.adf.budget import ArmBudget, slowdown_factor
from shared.runs import watch

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Factory:
    """Runs as `queryPipelineRuns` returns them; `status_of` answers from `statuses`."""

    def __init__(self):
        self.runs: dict[str, dict] = {}
        self.statuses: dict[str, dict] = {}
        self.windows: list[tuple[datetime, datetime]] = []
        self.activity_reads: list[str] = []

    def put(self, rid: str, batch: str | None, status: str, updated: datetime,
            stage: str = "Wait", activity: str = "InProgress") -> None:
        self.runs[rid] = {"runId": rid, "status": status, "lastUpdated": updated.isoformat(),
                          "parameters": {"batchId": batch_id(batch)} if batch else {}}
        ours = {"InProgress": "running", "Succeeded": "succeeded"}[status]
        self.statuses[rid] = {"runId": rid, "status": ours, "stage": stage,
                              "terminal": ours != "running",
                              "activities": [{"name": stage, "status": activity}]}

    def runs_updated(self, after, before):
        self.windows.append((after, before))
        return [r for r in self.runs.values()
                if after <= datetime.fromisoformat(r["lastUpdated"]) <= before]

    def status_of(self, run):
        self.activity_reads.append(run["runId"])
        return dict(self.statuses[run["runId"]])


class State:
    def __init__(self, docs=None):
        self.docs = dict(docs or {})

    def read_json(self, name):
        doc = self.docs.get(name)
        return (dict(doc), "etag") if doc is not None else (None, None)


def batch_id(name: str) -> str:
    """A batch id the app could have made (BATCH_ID), from a short name."""
    return f"{name}-{'0' * 20}"


def running(batch: str) -> dict:
    return {f"runs/{batch_id(batch)}.json": {"status": "running", "instanceId": f"inst-{batch}"}}


def world(*batches: str):
    adf = Factory()
    docs = {}
    for b in batches:
        docs.update(running(b))
    return adf, SimpleNamespace(adf=adf, state=State(docs))


def test_a_look_asks_from_the_last_look_less_the_overlap():
    adf, services = world()
    watch.look(services, at(0).isoformat(), {}, at(15))
    assert adf.windows == [(at(-watch.OVERLAP_SECONDS), at(15))]


def test_a_run_keeps_its_owner_once_its_record_stopped_saying_running():
    adf, services = world("b1")
    adf.put("r1", "b1", "InProgress", at(1))
    first = watch.look(services, None, {}, at(2))
    services.state.docs[f"runs/{batch_id('b1')}.json"]["status"] = "succeeded"  # finish_run wrote it
    adf.put("r1", "b1", "Succeeded", at(20))
    second = watch.look(services, first["since"], first["tracked"], at(30))
    assert [c["instanceId"] for c in second["changes"]] == ["inst-b1"]


def test_owner_of_needs_a_running_record():
    records = SimpleNamespace(get=lambda bid: {"status": "succeeded", "instanceId": "i"})
    assert watch.owner_of(records, batch_id("b")) is None
    records = SimpleNamespace(get=lambda bid: {"status": "running", "instanceId": "i"})
    assert watch.owner_of(records, batch_id("b")) == "i"
    assert watch.owner_of(records, None) is None


def test_a_batch_id_the_app_never_makes_is_not_ours():
    assert watch.batch_of({"parameters": {"batchId": batch_id("b")}}) == batch_id("b")
    # Another team's pipeline may have a batchId too: it is not looked up at all.
    for odd in ("b", "x" * 2000, "../runs/other", 42, None):
        assert watch.batch_of({"parameters": {"batchId": odd}}) is None
    assert watch.batch_of({"parameters": {}}) is None
    assert watch.batch_of({}) is None


def test_a_run_the_app_did_not_start_costs_no_activity_read():
    adf, services = world()
    adf.put("foreign", None, "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    assert adf.activity_reads == [] and seen["changes"] == []
    assert seen["tracked"]["foreign"]["owner"] is None


def test_an_unchanged_run_stays_tracked_as_long_as_it_is_seen(monkeypatch):
    monkeypatch.setattr(watch, "FORGET_AFTER", timedelta(minutes=30))  # inside the lookback
    adf, services = world("b1")
    adf.put("r1", "b1", "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    later = T0 + watch.FORGET_AFTER + timedelta(seconds=1)
    # a run that has not changed for longer than FORGET_AFTER but still shows up in the
    # window (here: the window reaches back to it) is seen, so it is kept
    seen = watch.look(services, (T0 - timedelta(seconds=10)).isoformat(), seen["tracked"],
                      later)
    assert "r1" in seen["tracked"]
    assert seen["tracked"]["r1"]["seenAt"] == later.isoformat()


def test_an_ended_run_is_not_refreshed_and_is_let_go_after_the_overlap():
    adf, services = world("b1")
    adf.put("r1", "b1", "Succeeded", at(1))
    seen = watch.look(services, None, {}, at(2))
    assert seen["tracked"]["r1"]["terminal"] is True and adf.activity_reads == ["r1"]
    # still inside the overlap: kept, as it can show up in the next window again
    seen = watch.look(services, seen["since"], seen["tracked"], at(50))
    assert "r1" in seen["tracked"]
    seen = watch.look(services, seen["since"], seen["tracked"], at(200))
    assert "r1" not in seen["tracked"] and adf.activity_reads == ["r1"]


def test_a_stale_stage_is_read_again_and_only_a_real_change_is_handed_over():
    adf, services = world("b1")
    adf.put("r1", "b1", "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    assert [c["instanceId"] for c in seen["changes"]] == ["inst-b1"]
    # a minute on, nothing moved: read again, nothing to hand over
    seen = watch.look(services, seen["since"], seen["tracked"], at(62))
    assert adf.activity_reads == ["r1", "r1"] and seen["changes"] == []
    # read again only a minute after the last read
    seen = watch.look(services, seen["since"], seen["tracked"], at(77))
    assert adf.activity_reads == ["r1", "r1"]
    # the stage moved without lastUpdated moving: the refresh hands it over, once
    adf.statuses["r1"] = {**adf.statuses["r1"], "stage": "Score",
                          "activities": [{"name": "Score", "status": "InProgress"}]}
    seen = watch.look(services, seen["since"], seen["tracked"], at(122))
    assert seen["changes"] == [{"instanceId": "inst-b1", "status": adf.statuses["r1"]}]
    seen = watch.look(services, seen["since"], seen["tracked"], at(182))
    assert seen["changes"] == [] and len(adf.activity_reads) == 4


def test_a_refresh_that_finds_the_run_ended_stops_refreshing_it():
    adf, services = world("b1")
    adf.put("r1", "b1", "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    adf.statuses["r1"] = {**adf.statuses["r1"], "status": "succeeded", "terminal": True}
    seen = watch.look(services, seen["since"], seen["tracked"], at(62))
    assert len(seen["changes"]) == 1 and "r1" not in seen["tracked"]  # ended long ago
    watch.look(services, seen["since"], seen["tracked"], at(122))
    assert adf.activity_reads == ["r1", "r1"]


def test_a_run_the_app_let_go_while_adf_still_cancels_it_is_no_longer_refreshed():
    # The run timed out: its orchestration asked for a cancel and ended (the record says
    # so), and Data Factory keeps the run `Cancelling`, its lastUpdated unmoved, for a while.
    adf, services = world("b1", "b2")
    adf.put("r1", "b1", "InProgress", at(1))
    adf.put("r2", "b2", "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    services.state.docs[f"runs/{batch_id('b1')}.json"]["status"] = "timed_out"
    seen = watch.look(services, seen["since"], seen["tracked"], at(62))
    assert adf.activity_reads == ["r1", "r2", "r2"] and seen["changes"] == []
    assert "r1" not in seen["tracked"] and seen["tracked"]["r2"]["owner"] == "inst-b2"
    for t in (122, 182):  # let go; the other run keeps being refreshed
        seen = watch.look(services, seen["since"], seen["tracked"], at(t))
    assert adf.activity_reads == ["r1", "r2", "r2", "r2", "r2"]
    # Data Factory ends the cancel: seen again, still not ours, no activity read
    adf.put("r1", "b1", "Succeeded", at(190))
    seen = watch.look(services, seen["since"], seen["tracked"], at(200))
    assert seen["changes"] == [] and adf.activity_reads.count("r1") == 1


def test_a_stage_exactly_a_minute_old_is_due():
    tracked = {"r": {"owner": "b", "terminal": False, "fetchedAt": at(0).isoformat()}}
    assert watch.stale_refreshes(tracked, at(watch.STAGE_MAX_AGE_SECONDS)) == ["r"]
    assert watch.stale_refreshes(tracked, at(watch.STAGE_MAX_AGE_SECONDS - 1)) == []


def test_forget_at_its_boundaries():
    entry = {"owner": "b", "terminal": True, "lastUpdated": at(0).isoformat(),
             "seenAt": at(0).isoformat()}
    assert "r" in watch.forget({"r": entry}, at(0), at(10))  # updated at the cutoff: kept
    assert "r" not in watch.forget({"r": entry}, at(0.001), at(10))
    alive = {**entry, "terminal": False}
    assert "r" in watch.forget({"r": alive}, at(-10), T0 + watch.FORGET_AFTER)
    assert "r" not in watch.forget({"r": alive}, at(-10),
                                   T0 + watch.FORGET_AFTER + timedelta(seconds=1))


@pytest.mark.parametrize("value", ["2026-11-26T12:00:00Z", "2026-11-26T12:00:00",
                                   "2026-11-26T14:00:00+02:00"])
def test_times_in_every_form_adf_writes_mean_the_same_instant(value):
    assert watch._time(value) == T0


def test_the_look_logs_what_it_saw(caplog):
    adf, services = world("b1", "b2")
    adf.put("r1", "b1", "InProgress", at(1))
    adf.put("r2", "b2", "Succeeded", at(1))
    adf.put("x", None, "InProgress", at(1))
    with caplog.at_level(logging.INFO, logger=watch.__name__):
        watch.look(services, at(0).isoformat(), {}, at(2))
    assert (f"watcher: 3 runs updated in [{at(-60).isoformat()}, {at(2).isoformat()}], "
            "2 changes of ours, 0 refreshed") in caplog.messages


def test_slowdown_at_the_edges_of_the_budget():
    assert slowdown_factor(200, 200) == 1.0
    assert slowdown_factor(1, 4) == 4.0  # one read left: low / 1, under the cap
    assert slowdown_factor(0, 4) == 4.0  # none left counts as one


def test_the_budget_reads_each_responses_headers():
    budget = ArmBudget(clock=lambda: 0.0)
    budget.on_response(SimpleNamespace(http_response=SimpleNamespace(
        headers={"x-ms-ratelimit-remaining-subscription-reads": "42"})))
    assert budget.remaining == 42
    budget.on_response(SimpleNamespace(http_response=SimpleNamespace()))  # no headers: kept
    assert budget.remaining == 42


def test_stale_stages_go_oldest_first_whatever_their_names():
    tracked = {rid: {"owner": rid, "terminal": False, "fetchedAt": at(s).isoformat()}
               for rid, s in (("a", 50), ("b", 10), ("c", 20))}
    assert watch.stale_refreshes(tracked, at(1000)) == ["b", "c"]


def test_a_run_whose_reads_fail_does_not_hold_back_the_others_and_is_read_next_look(caplog):
    adf, services = world("b1", "b2")
    adf.put("r1", "b1", "Succeeded", at(100))
    adf.put("r2", "b2", "Succeeded", at(110))
    read = adf.status_of

    def throttled(run):
        if run["runId"] == "r1":
            raise ConnectionError("429 after every retry")
        return read(run)

    adf.status_of = throttled
    with caplog.at_level(logging.WARNING, logger=watch.__name__):
        seen = watch.look(services, at(90).isoformat(), {}, at(120))
    assert [c["instanceId"] for c in seen["changes"]] == ["inst-b2"]
    assert seen["failedReads"] == 1 and "r1" not in seen["tracked"]
    assert "could not read run r1 (429 after every retry)" in caplog.text
    # the next window starts at r1's change, however often it fails, and no further back
    assert seen["since"] == at(100).isoformat()
    again = watch.look(services, seen["since"], seen["tracked"], at(135))
    assert again["since"] == at(100).isoformat() and again["changes"] == []
    assert adf.windows[-1] == (at(100 - watch.OVERLAP_SECONDS), at(135))
    adf.status_of = read  # ARM answers again: r1's end is handed over, r2's not again
    done = watch.look(services, again["since"], again["tracked"], at(150))
    assert [c["instanceId"] for c in done["changes"]] == ["inst-b1"]
    assert done["failedReads"] == 0 and done["since"] == at(150).isoformat()


def test_a_refresh_that_fails_is_first_in_line_next_look():
    adf, services = world("b1")
    adf.put("r1", "b1", "InProgress", at(1))
    seen = watch.look(services, None, {}, at(2))
    fetched = seen["tracked"]["r1"]["fetchedAt"]
    read, adf.status_of = adf.status_of, lambda run: 1 / 0
    seen = watch.look(services, seen["since"], seen["tracked"], at(62))
    assert seen["failedReads"] == 1 and seen["tracked"]["r1"]["fetchedAt"] == fetched
    assert seen["since"] == at(62).isoformat()  # the run is tracked: the window moves on
    adf.status_of = read
    seen = watch.look(services, seen["since"], seen["tracked"], at(77))
    assert seen["tracked"]["r1"]["fetchedAt"] == at(77).isoformat()


@pytest.mark.parametrize("run", [{"runId": "r", "runStart": 5},
                                 {"runId": "r", "runStart": "yesterday"},
                                 {"runId": "r", "runGroupId": ["g"]}])
def test_a_carried_run_a_refresh_could_not_read_is_not_a_watcher_state(run, caplog):
    entry = {"owner": "i", "lastUpdated": at(0).isoformat(), "seenAt": at(0).isoformat(),
             "fetchedAt": at(0).isoformat(), "run": run}
    raw = json.dumps({"since": at(0).isoformat(), "tracked": {"r": entry}}).encode()
    with caplog.at_level(logging.ERROR, logger=watch.__name__):
        assert watch.carried_state(raw) == {}
    assert "is not a watcher state" in caplog.text
    good = {**entry, "run": {"runId": "r", "runStart": at(0).isoformat(), "runGroupId": "r"}}
    assert watch.carried_state(json.dumps({"tracked": {"r": good}}).encode())
