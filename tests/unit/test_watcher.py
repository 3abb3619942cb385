"""The run watcher and `pipeline_run` waiting on it, on a simulated clock: the real
orchestrators replayed by the host stand-in's engine, the real watcher tick (look,
`shared.runs.watch`, and hand-over, `starters.watch_and_hand_over`) called as its timer
calls it, over an in-memory factory whose runs end when the test says, and the watcher's
state and run records in memory."""
from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest

from devstack.host.durable.simulate import Simulator
from shared.adf.budget import ArmBudget, slowdown_factor
from shared.orchestration import contract as c
from shared.orchestration.starters import watch_and_hand_over
from shared.runs import watch
from shared.settings import load_settings
from tests.unit.test_mutation_gaps_watch import batch_id
from tests.unit.test_orchestrators import BATCH, ORCHESTRATORS, RETRY, T0

SETTINGS = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
SAFETY_NET = 900.0
TICK = 5.0  # WATCH_TICK_SCHEDULE's default, */5 seconds


def iso(t: datetime) -> str:
    return t.isoformat()


class HostDied(BaseException):
    """The host going away mid-tick: no `except Exception` in the app catches it."""


class Faults:
    """Crash points a test arms: `crash_at["state"] = 1` kills the host at the next write
    of the watcher's state. Points: query (mid-look), hand_over (between two events),
    state (before the state is written), heartbeat (between the state and the heartbeat)."""

    def __init__(self):
        self.crash_at: Counter[str] = Counter()

    def hit(self, point: str) -> None:
        if self.crash_at[point]:
            self.crash_at[point] -= 1
            raise HostDied(point)


class FakeFactory:
    """Runs that are InProgress until `ends` and then `outcome`; a change becomes visible
    to queries `late` seconds after its `lastUpdated` (ADF's eventual consistency). Counts
    calls as ARM would see them (a page of `page_size` runs per query call)."""

    def __init__(self, sim: Simulator, page_size: int = 2, faults: Faults | None = None):
        self.sim, self.page_size, self.faults = sim, page_size, faults or Faults()
        self.runs: dict[str, dict] = {}
        self.calls: Counter[str] = Counter()
        self.budget = ArmBudget()
        self.fail_next_queries = 0
        self.lock = threading.Lock()  # a look reads activity runs from several threads
        self.look_seconds = 0.0  # simulated time one look takes
        self.look_starts: list[datetime] = []  # every look's query, failed or not

    def add(self, run_id: str, batch_id: str, ends: datetime, outcome: str = "Succeeded",
            late: float = 0.0) -> None:
        self.runs[run_id] = {"runId": run_id, "start": self.sim.now, "ends": ends,
                             "outcome": outcome, "late": late,
                             "parameters": {"batchId": batch_id}}

    def view(self, run_id: str) -> dict:
        r = self.runs[run_id]
        done = self.sim.now >= r["ends"]
        return {"runId": run_id, "status": r["outcome"] if done else "InProgress",
                "lastUpdated": iso(r["ends"] if done else r["start"]),
                "parameters": r["parameters"]}

    def visible(self, run_id: str) -> dict:
        """What a query sees now: the previous state until the change is visible."""
        r = self.runs[run_id]
        if r["ends"] <= self.sim.now < r["ends"] + timedelta(seconds=r["late"]):
            return {**self.view(run_id), "status": "InProgress", "lastUpdated": iso(r["start"])}
        return self.view(run_id)

    def runs_updated(self, after: datetime, before: datetime) -> list[dict]:
        self.look_starts.append(self.sim.now)
        self.faults.hit("query")
        self.sim.now += timedelta(seconds=self.look_seconds)
        if self.fail_next_queries:
            self.fail_next_queries -= 1
            raise ConnectionError("factory unreachable")
        seen = [self.visible(rid) for rid in self.runs]
        seen = [v for v in seen if after <= datetime.fromisoformat(v["lastUpdated"]) <= before]
        self.calls["queryPipelineRuns"] += max(1, -(-len(seen) // self.page_size))
        return seen

    def status_of(self, run: dict) -> dict:
        with self.lock:
            self.calls["queryActivityruns"] += 1
        status = {"InProgress": "running", "Succeeded": "succeeded", "Failed": "failed",
                  "Cancelled": "cancelled"}[run["status"]]
        return {"runId": run["runId"], "status": status, "stage": "Wait",
                "terminal": status != "running", "outputs": {}, "error": None,
                "activities": [{"name": "Wait", "status": run["status"]}]}

    def run_status(self, run_id: str) -> dict:
        self.calls["get"] += 1
        return self.status_of(self.view(run_id))


class FakeState:
    """`BlobState` in memory, etags included: run records and the watcher's blobs."""

    def __init__(self, faults: Faults | None = None):
        self.faults = faults or Faults()
        self.docs: dict[str, dict] = {}
        self.versions: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()

    def read_bytes(self, name):
        self.reads[name] += 1
        doc = self.docs.get(name)
        return (json.dumps(doc).encode(), str(self.versions[name])) if doc is not None else (
            None, None)

    def read_json(self, name):
        raw, etag = self.read_bytes(name)
        return (json.loads(raw), etag) if raw is not None else (None, None)

    def put(self, name, body):
        if name == watch.HEARTBEAT:
            self.faults.hit("heartbeat")
        self.docs[name] = body
        self.versions[name] += 1

    def write_if_unchanged(self, name, body, etag):
        if name == watch.STATE:
            self.faults.hit("state")
        return self.create(name, body) if etag is None else self.replace(name, body, etag)

    def create(self, name, body):
        if name in self.docs:
            return None
        self.put(name, body)
        return str(self.versions[name])

    def replace(self, name, body, etag):
        if name not in self.docs or str(self.versions[name]) != etag:
            return None
        self.put(name, body)
        return str(self.versions[name])


class FakeClient:
    """The Durable client's `raise_event`, into the simulator; `drop` loses events."""

    def __init__(self, sim: Simulator, drop: set[str] = frozenset(),
                 faults: Faults | None = None):
        self.sim, self.drop, self.raised = sim, set(drop), []
        self.faults = faults or Faults()
        self.unreachable = 0  # the next calls fail as when the Durable API is out of reach

    async def raise_event(self, instance_id, name, data):
        self.faults.hit("hand_over")
        if self.unreachable:
            self.unreachable -= 1
            raise ConnectionError("Cannot connect to host 127.0.0.1:7071")
        rec = self.sim.records.get(instance_id)
        if rec is None:  # the messages the Durable SDK raises for 404 and 410
            raise Exception(f"No instance with ID {instance_id} found.")
        if rec["runtimeStatus"] not in ("Running", "Pending"):
            raise Exception(f"Instance with ID {instance_id} is gone: either completed or failed")
        self.raised.append((instance_id, data["runId"], self.sim.now))
        if instance_id not in self.drop:  # as the stock client sends it: JSON text
            self.sim.raise_event(instance_id, name, json.dumps(data))


class World:
    """The watcher's timer and the runs' orchestrations in one simulation. `run(until=)`
    ticks the watcher every `tick` seconds (once `watching`) as the host's timer does: one
    tick at a time, and a tick that overran the next one is followed by the first tick
    after it ends."""

    def __init__(self, run_seconds: dict[str, float], page_size: int = 2, late: float = 0.0,
                 drop: set[str] = frozenset(), tracking: str = "watcher",
                 per_generation: int = 50):
        self.finished: dict[str, datetime] = {}
        self.sim = Simulator(ORCHESTRATORS, self.activities(), T0)
        self.faults = Faults()
        self.adf = FakeFactory(self.sim, page_size, self.faults)
        self.state = FakeState(self.faults)
        self.services = SimpleNamespace(settings=SETTINGS, adf=self.adf, state=self.state)
        self.client = FakeClient(self.sim, drop, self.faults)
        self.run_seconds, self.late, self.tracking = run_seconds, late, tracking
        self.look_starts = self.adf.look_starts
        self.per_generation = per_generation
        self.tick, self.watching, self.next_tick = TICK, False, T0
        self.ticks: list[dict] = []
        self.late_by = lambda n: 0.0  # seconds the n-th tick runs after its time

    def run(self, until: datetime) -> None:
        while self.watching and self.next_tick <= until:
            self.sim.run(until=self.next_tick)
            late = timedelta(seconds=self.late_by(len(self.ticks)))
            self.sim.now = max(self.sim.now, self.next_tick + late)
            self.ticks.append(self.watch_tick())
            self.next_tick += timedelta(seconds=self.tick)
            while self.next_tick <= self.sim.now:  # overran: the first tick after the end
                self.next_tick += timedelta(seconds=self.tick)
        self.sim.run(until=until)
        self.sim.now = max(self.sim.now, until)

    def watch_tick(self) -> dict:
        """What the timer function does: one call of the tick. A host that dies in it
        comes back for the next tick with what it had written."""
        try:
            return asyncio.run(watch_and_hand_over(self.client, self.services, self.sim.now))
        except HostDied as died:
            return {"crashed": str(died)}

    def start_watcher(self) -> None:
        self.watching = True
        self.next_tick = self.sim.now

    def activities(self) -> dict:
        def begin(p):
            bid = batch_id(p["batch"]["batchId"])
            self.state.docs[f"runs/{bid}.json"] = {"batchId": bid, "status": "running",
                                                  "instanceId": p["instanceId"]}
            return {"pipeline": "wait", "parameters": {"batchId": bid}, "pollSeconds": 30,
                    "maxPollSeconds": 300, "timeoutSeconds": 86400, "maxReruns": 0,
                    "pollsPerGeneration": self.per_generation, "tracking": self.tracking,
                    "safetyNetSeconds": SAFETY_NET}

        def start(p):
            run_id = f"run-{p['batchId']}"
            ends = self.sim.now + timedelta(seconds=self.run_seconds[p["batchId"]])
            self.adf.add(run_id, batch_id(p["batchId"]), ends, late=self.late)
            return {"runId": run_id, "created": True}

        def status(run):
            return self.adf.run_status(run["runId"])

        def finish(result):
            self.finished[result["batchId"]] = self.sim.now
            self.state.docs[f"runs/{batch_id(result['batchId'])}.json"]["status"] = \
                result["status"]
            return {"batchId": result["batchId"], "status": result["status"]}

        def cancel(run):
            self.adf.runs[run["runId"]].update(ends=self.sim.now, outcome="Cancelled")
            return self.adf.run_status(run["runId"])

        return {c.BEGIN_RUN: begin, c.START_ADF_RUN: start, c.GET_ADF_RUN_STATUS: status,
                c.FINISH_RUN: finish, c.CANCEL_ADF_RUN: cancel}

    def start_runs(self) -> None:
        for bid in self.run_seconds:
            self.sim.start(c.PIPELINE_RUN, bid, json.dumps(
                {"batch": {**BATCH, "batchId": bid}, "retry": RETRY}))

    def lag(self, bid: str) -> float:
        return (self.finished[bid] - self.adf.runs[f"run-{bid}"]["ends"]).total_seconds()


def until(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_runs_finish_within_a_watch_interval_of_their_end_and_two_in_one_second_both_do():
    # b and c end in the same second; five runs over three pages of changes.
    world = World({"a": 100, "b": 250, "c": 250, "d": 251, "e": 400}, page_size=2)
    world.start_watcher()
    world.start_runs()
    world.run(until=until(600))
    assert set(world.finished) == {"a", "b", "c", "d", "e"}
    for bid in world.finished:
        assert 0 <= world.lag(bid) <= SETTINGS.watch_interval_seconds + 0.1, bid
    # No run looked for itself: everything came from the watcher.
    assert world.sim.activity_runs.get(c.GET_ADF_RUN_STATUS, 0) == 0
    terminal = [(i, r) for i, r, _ in world.client.raised if world.sim.records[i]]
    assert {(i, r) for i, r in terminal} >= {("b", "run-b"), ("c", "run-c")}


@pytest.mark.parametrize("n", [2, 60])
def test_the_watcher_asks_once_per_look_whatever_the_number_of_runs(n):
    world = World({f"r{i}": 3000 for i in range(n)}, page_size=100)
    world.start_watcher()
    world.start_runs()
    world.run(until=until(1800))
    looks = len(world.look_starts)
    assert looks == pytest.approx(1800 / SETTINGS.watch_interval_seconds, abs=2)
    assert world.adf.calls["queryPipelineRuns"] == looks
    # Activity runs: once per run when it is new, then stale stages, a few per look at most,
    # besides each run's own safety-net polls (every 15 minutes).
    safety_net_polls = world.sim.activity_runs.get(c.GET_ADF_RUN_STATUS, 0)
    assert safety_net_polls <= n * 1800 // SAFETY_NET
    assert world.adf.calls["queryActivityruns"] <= (
        n + watch.REFRESHES_PER_LOOK * looks + safety_net_polls)


def test_a_run_whose_completion_event_is_lost_still_finishes_by_its_safety_net_poll():
    world = World({"lost": 100, "kept": 100}, drop={"lost"})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(2000))
    assert world.lag("kept") <= SETTINGS.watch_interval_seconds + 0.1
    assert 0 < world.lag("lost") <= SAFETY_NET
    assert world.sim.records["lost"]["runtimeStatus"] == "Completed"


def test_a_change_the_durable_api_did_not_take_is_handed_over_with_the_next_look():
    world = World({"a": 100, "b": 100})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(99))
    world.client.unreachable = 2  # both ends fail to be handed over once
    world.run(until=until(600))
    for bid in ("a", "b"):  # one watch interval late, not a safety net
        assert SETTINGS.watch_interval_seconds < world.lag(bid) <= (
            2 * SETTINGS.watch_interval_seconds + 0.1), bid
    assert world.sim.activity_runs.get(c.GET_ADF_RUN_STATUS, 0) == 0
    # Finished owners refuse their events as gone: nothing stays pending forever.
    assert world.state.docs[watch.STATE]["pending"] == []


def test_an_event_lost_as_a_generation_ends_is_made_up_by_the_next_generations_first_look():
    world = World({"g": 100}, per_generation=2, drop={"g"})  # the watcher's events are lost
    world.start_runs()
    world.run(until=until(50))
    world.sim.now = until(120)  # the run ended at 100; two other events end the generation
    for _ in range(2):
        world.sim.raise_event("g", c.RUN_CHANGED_EVENT, json.dumps(
            {"runId": "run-g", "status": "running", "terminal": False, "activities": []}))
    world.run(until=until(130))
    assert world.sim.records["g"]["executions"] == 1
    assert world.finished["g"] == pytest.approx(until(120), abs=timedelta(seconds=1))


def test_a_low_arm_read_budget_slows_the_watcher_and_the_runs_still_finish():
    world = World({"slow": 100, "slow2": 130})
    world.adf.budget.observe({"x-ms-ratelimit-remaining-subscription-reads": "25"})  # 8x
    world.start_watcher()
    world.start_runs()
    world.run(until=until(1000))
    looks = len(world.look_starts)
    assert looks == pytest.approx(1000 / (8 * SETTINGS.watch_interval_seconds), abs=1)
    assert set(world.finished) == {"slow", "slow2"}
    assert max(world.lag("slow"), world.lag("slow2")) <= 8 * SETTINGS.watch_interval_seconds


def test_a_run_finishes_by_its_safety_net_when_no_watcher_runs_at_all():
    world = World({"alone": 100})
    world.start_runs()
    world.run(until=until(2000))
    assert world.finished["alone"] == pytest.approx(until(SAFETY_NET), abs=timedelta(seconds=1))
    assert world.adf.calls["get"] == 1  # the safety net


def test_a_change_visible_late_or_a_look_that_crashed_is_caught_by_the_overlapping_window():
    # The end of the run shows up in queries 40 s after its lastUpdated, and the watcher's
    # host dies in the look after it (the next tick looks again with the same window).
    world = World({"late": 100}, late=40)
    world.start_watcher()
    world.start_runs()
    world.run(until=until(140))
    assert "late" not in world.finished
    world.faults.crash_at["query"] = 1
    world.run(until=until(400))
    assert world.lag("late") <= 40 + 2 * SETTINGS.watch_interval_seconds + 2


@pytest.mark.parametrize("state_lost", [False, True])
def test_a_restarted_watcher_looks_back_and_misses_no_change(state_lost):
    world = World({"r": 100})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(50))
    world.watching = False  # the host goes away, and its timer with it ...
    world.run(until=until(300))
    assert "r" not in world.finished  # ended at 100 s; nobody told its orchestration
    if state_lost:  # ... and with it, or not, the watcher's state (a fresh look back)
        world.state.docs.pop(watch.STATE)
        world.state.docs.pop(watch.HEARTBEAT)
    world.start_watcher()  # ... until a host runs the timer again
    world.run(until=until(400))
    assert world.finished["r"] == pytest.approx(until(300), abs=timedelta(seconds=2))


def test_the_watchers_state_stays_bounded_and_carries_its_window():
    world = World({"long": 5000, "short": 100})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(3000))
    assert len(world.look_starts) >= 190  # a look every 15 s
    carried = world.state.docs[watch.STATE]
    assert set(carried["tracked"]) == {"run-long"} and carried["pending"] == []
    assert datetime.fromisoformat(carried["since"]) > until(2980)
    beat = world.state.docs[watch.HEARTBEAT]
    assert datetime.fromisoformat(beat["lookedAt"]) > until(2980)
    assert datetime.fromisoformat(beat["nextLookAt"]) == datetime.fromisoformat(
        beat["lookedAt"]) + timedelta(seconds=SETTINGS.watch_interval_seconds)


def test_a_tick_looks_only_when_a_look_is_due_and_otherwise_reads_only_the_heartbeat():
    world = World({})
    world.start_watcher()
    world.run(until=until(300))
    assert len(world.ticks) == 61 and len(world.look_starts) == 21  # ticks at 0, 5, ... 300
    assert [t.get("skipped") for t in world.ticks[:4]] == [None, "not due", "not due", None]
    assert world.state.reads[watch.HEARTBEAT] == 61 and world.state.reads[watch.STATE] == 21
    assert world.adf.calls["queryPipelineRuns"] == 21


@pytest.mark.parametrize("first_look", [True, False])
def test_of_two_looks_at_once_only_one_moves_the_window(first_look):
    world = World({"a": 100})
    world.start_runs()
    if not first_look:  # the state exists: the write is a replace under its etag
        world.start_watcher()
        world.run(until=until(30))
        world.watching = False
    world.sim.run(until=until(41))
    world.state.docs.pop(watch.HEARTBEAT, None)
    other = {"since": iso(until(40)), "tracked": {}, "pending": []}
    write = world.state.write_if_unchanged

    def another_look_first(name, body, etag):  # a second host's tick wrote in between
        world.state.put(name, other)
        return write(name, body, etag)

    world.state.write_if_unchanged = another_look_first
    result = asyncio.run(watch_and_hand_over(world.client, world.services, world.sim.now))
    assert result["skipped"] == "another look wrote first"
    assert world.state.docs[watch.STATE] == other  # the other look's window stands
    assert watch.HEARTBEAT not in world.state.docs  # the next tick looks again


@pytest.mark.parametrize("point", ["query", "hand_over", "state", "heartbeat"])
def test_a_host_that_dies_anywhere_in_a_tick_leaves_nothing_half_done(point):
    world = World({"a": 100, "b": 100})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(99))
    since = world.state.docs[watch.STATE]["since"]
    world.faults.crash_at[point] = 1  # in the look at 105, which sees both ends
    world.run(until=until(105))
    assert world.ticks[-1] == {"crashed": point}
    moved = world.state.docs[watch.STATE]["since"] != since
    assert moved == (point == "heartbeat")  # only a written state moves the window
    world.run(until=until(300))
    # The next tick looks again (the heartbeat still says a look is due), so both runs
    # hear of their end within a tick: none waits for its safety net.
    for bid in ("a", "b"):
        assert world.lag(bid) <= 5 + TICK + 0.1, (bid, world.lag(bid))
    assert world.sim.activity_runs.get(c.GET_ADF_RUN_STATUS, 0) == 0


def test_the_next_look_is_counted_from_when_the_last_one_began():
    world = World({})
    world.adf.look_seconds = 10.0  # many runs ended together: the look itself takes a while
    world.start_watcher()
    world.run(until=until(200))
    gaps = {round((b - a).total_seconds()) for a, b in pairwise(world.look_starts)}
    assert len(world.look_starts) >= 10 and gaps == {SETTINGS.watch_interval_seconds}
    world.adf.look_seconds = 40.0  # longer than the interval: the first tick after it looks
    world.run(until=until(400))
    assert {round((b - a).total_seconds()) for a, b in pairwise(world.look_starts[-4:])} == {45}


def lockstep_look(monkeypatch, n: int):
    """One look over `n` changed runs whose reads each wait until READS_AT_ONCE are in
    flight (fewer threads never get there): (changes, most reads at once, reading threads)."""
    sim = Simulator(ORCHESTRATORS, {}, T0)
    factory = FakeFactory(sim)
    state = FakeState()
    for i in range(n):
        factory.add(f"run-{i}", batch_id(f"b{i}"), ends=T0)
        state.docs[f"runs/{batch_id(f'b{i}')}.json"] = {"status": "running",
                                                        "instanceId": f"b{i}"}
    sim.now = T0 + timedelta(seconds=1)
    together = threading.Barrier(watch.READS_AT_ONCE, timeout=10)
    flight, most, threads = [0], [0], set()
    read = factory.status_of

    def slow_read(run):
        with factory.lock:
            flight[0] += 1
            most[0] = max(most[0], flight[0])
            threads.add(threading.current_thread())
        try:
            together.wait()
            return read(run)
        finally:
            with factory.lock:
                flight[0] -= 1

    monkeypatch.setattr(factory, "status_of", slow_read)
    seen = watch.look(SimpleNamespace(adf=factory, state=state), None, {}, sim.now)
    assert factory.calls["queryActivityruns"] == n
    return seen["changes"], most[0], threads


def test_one_look_reads_its_changed_runs_reads_at_once_at_a_time(monkeypatch):
    n = 3 * watch.READS_AT_ONCE
    changes, most, threads = lockstep_look(monkeypatch, n)
    assert sorted(ch["instanceId"] for ch in changes) == sorted(f"b{i}" for i in range(n))
    assert most == watch.READS_AT_ONCE and {t.name.split("_")[0] for t in threads} == {"watch"}


def test_the_next_look_reads_on_the_same_threads(monkeypatch):
    # a pool per look started and stopped READS_AT_ONCE threads every few seconds
    _, _, first = lockstep_look(monkeypatch, watch.READS_AT_ONCE)
    _, _, second = lockstep_look(monkeypatch, watch.READS_AT_ONCE)
    assert len(first) == watch.READS_AT_ONCE and second == first
    assert all(t.is_alive() for t in first)


def test_a_cancel_still_cancels_at_once_while_the_watcher_follows_the_run():
    world = World({"x": 5000})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(60))
    world.sim.raise_event("x", c.CANCEL_EVENT, {"by": "api"})
    world.run(until=until(120))
    assert world.finished["x"] == pytest.approx(until(60), abs=timedelta(seconds=16))
    assert world.sim.records["x"]["runtimeStatus"] == "Completed"


def test_an_event_about_another_adf_run_makes_the_run_look_for_itself():
    world = World({"y": 5000})
    world.start_runs()
    world.run(until=until(10))
    world.sim.raise_event("y", c.RUN_CHANGED_EVENT, {"runId": "an-earlier-try",
                                                     "status": "failed", "terminal": True})
    world.run(until=until(20))
    assert world.adf.calls["get"] == 1 and "y" not in world.finished


def test_with_run_tracking_poll_the_watchers_ticks_do_nothing_and_runs_poll_themselves():
    world = World({"p": 100}, tracking="poll")
    world.services.settings = load_settings({"STORAGE_CONNECTION_STRING": "x",
                                             "RUN_TRACKING": "poll"})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(400))
    assert world.ticks and {t["skipped"] for t in world.ticks} == {"RUN_TRACKING=poll"}
    assert world.adf.calls["queryPipelineRuns"] == 0 and world.state.reads[watch.HEARTBEAT] == 0
    assert world.adf.calls["get"] >= 3 and "p" in world.finished


# --- pure decisions -----------------------------------------------------------------------

def test_window_overlaps_the_last_look_and_a_fresh_watcher_looks_back():
    now = until(1000)
    assert watch.window(iso(until(985)), now) == (until(985 - watch.OVERLAP_SECONDS), now)
    back = now - timedelta(seconds=watch.LOOKBACK_SECONDS + watch.OVERLAP_SECONDS)
    assert watch.window(None, now) == (back, now)
    assert watch.window(iso(until(-86400)), now) == (back, now)  # stopped a day: an hour back


def test_a_look_is_due_at_its_time_give_or_take_half_a_tick():
    early, interval = timedelta(seconds=2.5), 15.0
    beat = {"nextLookAt": iso(until(15))}

    def due(b, at):
        return watch.due(b, until(at), early, interval)

    assert due(None, 0) and due({"lookedAt": iso(until(0))}, 0) and due([1, 2], 0)
    assert due(beat, 15) and due(beat, 12.6)  # a look that began up to 2.4 s late
    assert not due(beat, 12.4) and not due(beat, 10)  # never a whole tick early
    # A time no real wait reaches (16 intervals), or one without a time zone: look now.
    assert due({"nextLookAt": iso(until(241))}, 0) and not due({"nextLookAt": iso(until(239))}, 0)
    assert due({"nextLookAt": "2026-11-24T12:00:15"}, 0)


def test_a_late_tick_does_not_make_the_next_look_wait_a_whole_tick():
    world = World({})
    world.late_by = lambda n: 2.0 if n % 2 == 0 else 0.0  # every other tick runs 2 s late
    world.start_watcher()
    world.run(until=until(300))
    gaps = [(b - a).total_seconds() for a, b in pairwise(world.look_starts)]
    # A look that began 2 s late is followed by one on time, 13 s later, not 18 s.
    assert len(world.look_starts) == 21 and max(gaps) <= SETTINGS.watch_interval_seconds + 2


def test_a_carried_state_is_taken_only_in_the_shape_looks_write(caplog):
    world = World({"long": 5000})
    world.start_watcher()
    world.start_runs()
    world.run(until=until(100))
    good = world.state.docs[watch.STATE]
    assert watch.carried_state(json.dumps(good).encode()) == good and good["tracked"]
    entry = good["tracked"]["run-long"]
    without_run = {k: v for k, v in entry.items() if k != "run"}
    # Each of these once passed a loose check and then made every look fail.
    bad = [({**good, "since": 1700000000}, "since: Input should be a valid string"),
           ({**good, "since": "2026-11-27T00:00:00"}, "since: Value error, needs a time zone"),
           ({**good, "tracked": {"run-long": without_run}}, "carries its `run`"),
           ({**good, "tracked": {"run-long": {**entry, "seenAt": 5}}},
            "tracked.run-long.seenAt: Input should be a valid string"),
           ({**good, "pending": [{"instanceId": "x"}]}, "pending.0.status: is required"),
           ([good], "state: Input should be an object")]
    for doc, named in bad:
        caplog.clear()
        assert watch.carried_state(json.dumps(doc).encode()) == {}, named
        assert f"{watch.STATE} is not a watcher state" in caplog.text and named in caplog.text
    assert watch.carried_state(b"{not json") == {} and "Invalid JSON" in caplog.text


def test_stale_stages_are_refreshed_oldest_first_and_capped_per_look():
    now = until(1000)
    tracked = {f"r{i}": {"owner": f"b{i}", "terminal": False, "fetchedAt": iso(until(i))}
               for i in range(50)}
    tracked["done"] = {"owner": "bd", "terminal": True, "fetchedAt": iso(until(0))}
    tracked["fresh"] = {"owner": "bf", "terminal": False, "fetchedAt": iso(until(990))}
    due = watch.stale_refreshes(tracked, now)
    assert due == [f"r{i}" for i in range(watch.REFRESHES_PER_LOOK)]


def test_forget_keeps_owned_runs_in_progress_and_what_can_still_reappear():
    now, after = until(1000), until(940)
    tracked = {
        "ours-running": {"owner": "a", "terminal": False, "lastUpdated": iso(until(10)),
                         "seenAt": iso(now)},
        "ours-ended-old": {"owner": "b", "terminal": True, "lastUpdated": iso(until(900)),
                           "seenAt": iso(now)},
        "ours-ended-new": {"owner": "c", "terminal": True, "lastUpdated": iso(until(950)),
                           "seenAt": iso(now)},
        "foreign-old": {"owner": None, "terminal": False, "lastUpdated": iso(until(100)),
                        "seenAt": iso(now)},
    }
    assert set(watch.forget(tracked, after, now)) == {"ours-running", "ours-ended-new"}


@pytest.mark.parametrize("remaining, factor", [
    (None, 1.0), (5000, 1.0), (200, 1.0), (100, 2.0), (50, 4.0), (10, 8.0), (0, 8.0)])
def test_slowdown_grows_as_arm_reads_run_low(remaining, factor):
    assert slowdown_factor(remaining, low=200) == factor


def test_budget_reads_the_header_and_forgets_it_when_stale():
    clock = [0.0]
    budget = ArmBudget(clock=lambda: clock[0])
    budget.observe({"X-MS-Ratelimit-Remaining-Subscription-Reads": "50"})
    assert budget.remaining == 50 and budget.slowdown(200) == 4.0
    clock[0] = 1000.0
    assert budget.remaining is None and budget.slowdown(200) == 1.0


def test_a_failed_look_keeps_the_window_waits_twice_as_long_and_health_names_the_error():
    from shared.monitoring.health import watcher_status

    world = World({"f": 100})
    world.start_runs()
    world.adf.fail_next_queries = 1
    world.start_watcher()
    world.run(until=until(40))
    assert world.ticks[0] == {"error": "factory unreachable", "nextLookAt": iso(until(30))}
    assert [t.get("skipped") for t in world.ticks[1:6]] == ["not due"] * 5
    assert "runsSeen" in world.ticks[6] and world.ticks[6]["failedReads"] == 0  # at 30 s
    world.run(until=until(100))
    world.adf.fail_next_queries = 4  # the run ends at 100; looks fail from 105 to 195
    world.run(until=until(110))
    failed = watcher_status(world.services, world.sim.now)
    assert failed["ok"] and failed["lastError"] == "factory unreachable"
    assert failed["lastLookedAt"] == iso(until(90))  # the last look that worked
    world.run(until=until(300))
    # Noticed by the look at 225, from the window the failures kept (since 90): a window
    # moved on by the failures would start past the run's end, overlap or not.
    assert world.lag("f") == pytest.approx(125, abs=0.1)
    assert watcher_status(world.services, world.sim.now)["lastError"] is None
    world.state.docs[watch.HEARTBEAT] = {"error": "factory unreachable"}  # never worked
    never = watcher_status(world.services, world.sim.now)
    assert not never["ok"] and "factory unreachable" in never["detail"]
    for odd in ([1, 2], {"lookedAt": "2026-11-26T12:00:00"}, {"lookedAt": 5},
                {"lookedAt": iso(T0), "slowdown": "fast"}):  # written by someone else
        world.state.docs[watch.HEARTBEAT] = odd
        seen = watcher_status(world.services, world.sim.now)
        assert not seen["ok"] and seen["detail"] == f"{watch.HEARTBEAT} is not a watcher heartbeat"
    world.run(until=until(330))  # the next look rewrites it
    assert watcher_status(world.services, world.sim.now)["ok"]


def test_health_says_when_the_watcher_last_looked_and_fails_once_it_stopped_looking():
    from shared.monitoring.health import watcher_status

    services = SimpleNamespace(settings=SETTINGS, state=FakeState())
    assert watcher_status(services, T0)["ok"] is True  # not looked yet
    services.state.put(watch.HEARTBEAT, {"lookedAt": iso(T0), "slowdown": 1.0})
    fresh = watcher_status(services, until(20))
    assert fresh["ok"] and fresh["lastLookedAt"] == iso(T0) and fresh["ageSeconds"] == 20
    stale = watcher_status(services, until(301))
    assert not stale["ok"] and "stale" in stale["detail"] and stale["lastError"] is None
    polling = SimpleNamespace(settings=load_settings({"STORAGE_CONNECTION_STRING": "x",
                                                      "RUN_TRACKING": "poll"}),
                              state=services.state)
    assert watcher_status(polling, until(9999))["ok"] is True
