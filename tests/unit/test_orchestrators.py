"""The app's real orchestrators, as `function_app` registers them, replayed by the host
stand-in's engine on a simulated clock (no ADF, no storage, no training, no sleeps):
activities are scripted at their boundary and record when they ran."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest

from devstack.host.durable.simulate import Simulator
from shared.orchestration import contract as c
from shared.orchestration.pipeline_run import pipeline_run
from tests.app_index import app_functions

T0 = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
ORCHESTRATORS = {f.get_function_name(): f.get_user_function() for f in app_functions()
                 if any(b.type == "orchestrationTrigger" for b in f.get_bindings())}
RETRY = {"attempts": 2, "firstSeconds": 1.0}
BATCH = {"batchId": "labelled-abc", "kind": "labelled", "mode": "train-and-score",
         "manifestPath": "state/manifests/labelled-abc.json", "files": [], "reason": "test"}


def running(stage: str = "Train", activity_status: str = "InProgress") -> dict:
    return {"status": "running", "stage": stage, "terminal": False,
            "activities": [{"name": stage, "status": activity_status, "start": "2026-11-24T12:00:01"}]}


def ended(status: str, **more) -> dict:
    return {"status": status, "stage": "Score", "terminal": True, "activities": [
        {"name": "Preprocess", "status": "Succeeded", "start": "2026-11-24T12:00:01",
         "end": "2026-11-24T12:01:00", "durationSeconds": 59},
        {"name": "Train", "status": "Succeeded" if status == "succeeded" else "Failed",
         "start": "2026-11-24T12:01:00", "end": "2026-11-24T12:05:00", "durationSeconds": 240}],
        "outputs": {"Train": {"accuracy": 0.95}} if status == "succeeded" else {},
        "error": None if status == "succeeded" else "Train failed", **more}


class FakeFactory:
    """The activities of `pipeline_run`, scripted: `script(run_id, poll_number)` gives the
    status of each poll. Every call is kept with the simulated time it ran at."""

    def __init__(self, script, **plan):
        self.script = script
        self.plan = {"pipeline": "train_and_score", "parameters": {"batchId": BATCH["batchId"]},
                     "pollSeconds": 30, "maxPollSeconds": 300, "timeoutSeconds": 86400,
                     "maxReruns": 0, "pollsPerGeneration": 50, **plan}
        self.calls: list[tuple[str, object, datetime]] = []
        self.polls: dict[str, int] = {}
        self.runs = 0
        self.sim: Simulator | None = None

    def _log(self, name, payload):
        self.calls.append((name, payload, self.sim.now))

    def named(self, name):
        return [(p, t) for n, p, t in self.calls if n == name]

    def activities(self) -> dict:
        def begin_run(p):
            self._log(c.BEGIN_RUN, p)
            return self.plan

        def start(p):
            self._log(c.START_ADF_RUN, p)
            self.runs += 1
            return {"runId": f"run-{self.runs}", "created": True}

        def rerun(p):
            self._log(c.RERUN_ADF_RUN, p)
            self.runs += 1
            return {"runId": f"run-{self.runs}"}

        def status(run):
            self._log(c.GET_ADF_RUN_STATUS, run)
            run_id = run["runId"]
            self.polls[run_id] = self.polls.get(run_id, 0) + 1
            return self.script(run_id, self.polls[run_id])

        def cancel(run):
            self._log(c.CANCEL_ADF_RUN, run)
            return {**running(), "status": "cancelled", "terminal": True}

        def finish(result):
            self._log(c.FINISH_RUN, result)
            return {"batchId": result["batchId"], "status": result["status"]}

        return {c.BEGIN_RUN: begin_run, c.START_ADF_RUN: start, c.RERUN_ADF_RUN: rerun,
                c.GET_ADF_RUN_STATUS: status, c.CANCEL_ADF_RUN: cancel, c.FINISH_RUN: finish}


def simulate(factory: FakeFactory, batch: dict = BATCH) -> tuple[Simulator, dict]:
    sim = Simulator(ORCHESTRATORS, factory.activities(), T0)
    factory.sim = sim
    rec = sim.start(c.PIPELINE_RUN, batch["batchId"], json.dumps({"batch": batch, "retry": RETRY}))
    return sim, rec


def value(v):
    """An instance's input or output as stored: JSON text or already a value."""
    return json.loads(v) if isinstance(v, str) else v


def result_of(factory: FakeFactory) -> dict:
    ((result, _),) = factory.named(c.FINISH_RUN)
    return result


def poll_gaps(factory: FakeFactory) -> list[float]:
    times = [t for _, t in factory.named(c.GET_ADF_RUN_STATUS)]
    return [round((b - a).total_seconds()) for a, b in zip(times, times[1:], strict=False)]


# --- pipeline_run -------------------------------------------------------------------------------

def test_a_run_that_succeeds_is_started_once_followed_and_finished():
    factory = FakeFactory(lambda run, n: running() if n < 3 else ended("succeeded"))
    sim, rec = simulate(factory)
    sim.run()
    assert rec["runtimeStatus"] == "Completed"
    assert value(rec["output"]) == {"batchId": "labelled-abc", "status": "succeeded"}
    assert len(factory.named(c.START_ADF_RUN)) == 1 and factory.named(c.RERUN_ADF_RUN) == []
    result = result_of(factory)
    assert (result["status"], result["adfRunIds"], result["reruns"]) == ("succeeded", ["run-1"], 0)
    assert [s["name"] for s in result["stages"]] == ["Preprocess", "Train"]
    assert result["outputs"] == {"Train": {"accuracy": 0.95}}
    assert result["durationSeconds"] == pytest.approx(30 + 60, abs=1)  # two waits: 30 s, 60 s


def test_a_failure_is_rerun_from_the_failed_activity_up_to_max_reruns():
    def script(run, n):
        return ended("failed") if run == "run-1" else (running() if n < 2 else ended("succeeded"))

    factory = FakeFactory(script, maxReruns=1)
    sim, rec = simulate(factory)
    sim.run()
    ((rerun, _),) = factory.named(c.RERUN_ADF_RUN)
    assert rerun["runId"] == "run-1" and "parameters" not in rerun  # ADF uses run-1's
    result = result_of(factory)
    assert (result["status"], result["adfRunIds"], result["reruns"]) == (
        "succeeded", ["run-1", "run-2"], 1)


def test_a_failure_past_max_reruns_ends_failed_with_the_error():
    factory = FakeFactory(lambda run, n: ended("failed"), maxReruns=1)
    sim, rec = simulate(factory)
    sim.run()
    result = result_of(factory)
    assert (result["status"], result["adfRunIds"], result["error"]) == (
        "failed", ["run-1", "run-2"], "Train failed")


def test_a_run_past_its_timeout_is_cancelled_and_ends_timed_out():
    factory = FakeFactory(lambda run, n: running(), timeoutSeconds=100)
    sim, rec = simulate(factory)
    sim.run()
    ((cancelled, at),) = factory.named(c.CANCEL_ADF_RUN)
    assert cancelled == {"batchId": "labelled-abc", "instanceId": "labelled-abc", "runId": "run-1"}
    assert at - T0 == pytest.approx(timedelta(seconds=100), abs=timedelta(seconds=1))
    assert result_of(factory)["status"] == "timed_out"
    assert max(poll_gaps(factory)) <= 60  # the last wait is cut to the deadline


def test_a_cancel_event_cancels_the_adf_run_at_once():
    factory = FakeFactory(lambda run, n: running())
    sim, rec = simulate(factory)
    sim.run(fire_timers=False)  # waiting on its first timer
    sim.raise_event("labelled-abc", c.CANCEL_EVENT, {"by": "api"})
    sim.run()
    ((cancelled, at),) = factory.named(c.CANCEL_ADF_RUN)
    assert cancelled["runId"] == "run-1" and at == T0
    assert result_of(factory)["status"] == "cancelled"
    assert len(factory.named(c.GET_ADF_RUN_STATUS)) == 1


def test_a_cancel_raised_while_a_poll_runs_is_not_lost_to_an_earlier_wait():
    """The Durable SDK hands an event to the newest waiter of its name: one raised while an
    activity runs must find the orchestration's live waiter, not one left from a wait the
    timer won."""
    factory = FakeFactory(lambda run, n: running(), timeoutSeconds=3600)
    sim, rec = simulate(factory)

    def status_raising_cancel(run):
        if len(factory.named(c.GET_ADF_RUN_STATUS)) == 2:  # the second poll, after one wait
            sim.raise_event("labelled-abc", c.CANCEL_EVENT, {"by": "api"})
        return running()

    poll = sim.activities[c.GET_ADF_RUN_STATUS]
    sim.activities[c.GET_ADF_RUN_STATUS] = lambda run: (poll(run), status_raising_cancel(run))[1]
    sim.run()
    assert result_of(factory)["status"] == "cancelled"
    ((_, at),) = factory.named(c.CANCEL_ADF_RUN)
    assert at - T0 < timedelta(seconds=120)


def test_a_run_change_raised_while_a_poll_runs_is_not_lost():
    """Watcher mode: a `run_changed` raised while an activity runs (a poll after the safety
    net, a rerun) reaches the run at once, not after another safety-net wait."""
    factory = FakeFactory(lambda run, n: running(), tracking="watcher", safetyNetSeconds=900,
                          timeoutSeconds=86400)
    sim, rec = simulate(factory)

    def status_raising_change(run):
        if len(factory.named(c.GET_ADF_RUN_STATUS)) == 1:  # the safety-net poll
            sim.raise_event("labelled-abc", c.RUN_CHANGED_EVENT,
                            {"runId": "run-1", **ended("succeeded")})
        return running()

    poll = sim.activities[c.GET_ADF_RUN_STATUS]
    sim.activities[c.GET_ADF_RUN_STATUS] = lambda run: (poll(run), status_raising_change(run))[1]
    sim.run()
    result = result_of(factory)
    assert result["status"] == "succeeded"
    ((_, at),) = factory.named(c.FINISH_RUN)
    assert at - T0 < timedelta(seconds=1800), at - T0  # not a second safety net later


@pytest.mark.parametrize("about", ["run-1", "an-earlier-try"])
def test_an_event_raised_before_any_wait_is_taken_once_not_at_every_later_wait(about):
    """The Python SDK hands an event raised while no waiter is open to every later waiter of
    its name in the same history (azure-functions-durable-python#507): the run must not
    spin through its generation's waits (or, for another run's event, its polls) at once."""
    factory = FakeFactory(lambda run, n: running() if n < 3 else ended("succeeded"),
                          tracking="watcher", safetyNetSeconds=900, timeoutSeconds=86400)
    sim, rec = simulate(factory)
    start = sim.activities[c.START_ADF_RUN]

    def start_raising_change(p):  # the watcher's event lands while the start runs
        sim.raise_event("labelled-abc", c.RUN_CHANGED_EVENT,
                        {"runId": about, **running(), "handedAt": T0.isoformat()})
        return start(p)

    sim.activities[c.START_ADF_RUN] = start_raising_change
    replays = []  # each replay of the orchestrator: how many waits it made

    class CountingWaits:
        def __init__(self, context):
            self.context, self.waits = context, 0

        def __getattr__(self, name):
            return getattr(self.context, name)

        def create_timer(self, at):
            self.waits += 1
            return self.context.create_timer(at)

    def counted(context):
        replays.append(counting := CountingWaits(context))
        return (yield from pipeline_run(counting))

    sim.orchestrators = {**ORCHESTRATORS, c.PIPELINE_RUN: df.Orchestrator.create(counted)}
    sim.run()
    assert result_of(factory)["status"] == "succeeded"
    polls_at_once = [t for _, t in factory.named(c.GET_ADF_RUN_STATUS) if t == T0]
    assert max(r.waits for r in replays) <= 3 and len(polls_at_once) <= 2, (
        [r.waits for r in replays], len(polls_at_once))


def test_a_status_read_that_fails_all_its_tries_is_no_news_and_the_run_goes_on():
    def script(run, n):
        if n in (2, 3):
            raise ConnectionError("management.azure.com unreachable")
        return running() if n < 5 else ended("succeeded")

    factory = FakeFactory(script)
    sim, rec = simulate(factory)
    sim.run()
    assert rec["runtimeStatus"] == "Completed"
    assert result_of(factory)["status"] == "succeeded"


@pytest.mark.parametrize("step", [c.START_ADF_RUN, c.RERUN_ADF_RUN, c.CANCEL_ADF_RUN])
def test_a_step_that_fails_all_its_tries_ends_the_run_failed_naming_it(step):
    """Nothing is left saying "running": a user's rerun of a run ADF is still cancelling, a
    start ADF refuses, a cancel that cannot reach ADF."""
    factory = FakeFactory(lambda run, n: running(), timeoutSeconds=100)
    sim, rec = simulate(factory, {**BATCH, "rerunOf": "run-0"} if step == c.RERUN_ADF_RUN
                        else BATCH)

    def refuse(p):
        factory._log(step, p)
        raise ValueError("run run-0 is cancelling; only a failed or cancelled run can be rerun")

    sim.activities[step] = refuse
    sim.run()
    assert rec["runtimeStatus"] == "Completed"
    result = result_of(factory)
    assert result["status"] == "failed"
    assert step in result["error"]["message"] and "cancelling" in result["error"]["message"]
    assert len(factory.named(step)) == RETRY["attempts"]
    assert result["pipeline"] == "train_and_score"


@pytest.mark.parametrize("how", ["cancel", "timeout"])
def test_a_cancel_or_timeout_that_finds_the_run_already_succeeded_records_its_success(how):
    factory = FakeFactory(lambda run, n: running(), timeoutSeconds=100 if how == "timeout"
                          else 86400)
    factory_cancel = factory.activities()[c.CANCEL_ADF_RUN]
    sim, rec = simulate(factory)
    sim.activities[c.CANCEL_ADF_RUN] = lambda run: (factory_cancel(run), ended("succeeded"))[1]
    if how == "cancel":
        sim.run(fire_timers=False)
        sim.raise_event("labelled-abc", c.CANCEL_EVENT, {"by": "api"})
    sim.run()
    result = result_of(factory)
    assert (result["status"], result["outputs"]) == ("succeeded", {"Train": {"accuracy": 0.95}})


def test_the_poll_interval_backs_off_while_nothing_changes_and_resets_when_something_does():
    stages = ["Preprocess"] * 6 + ["Train"] * 3

    def script(run, n):
        return running(stages[n - 1]) if n <= len(stages) else ended("succeeded")

    factory = FakeFactory(script)
    sim, rec = simulate(factory)
    sim.run()
    # Preprocess: 30 after the first look, doubling to the 300 s cap; Train: back to 30.
    assert poll_gaps(factory) == [30, 60, 120, 240, 300, 300, 30, 60, 120]


def test_continue_as_new_after_the_configured_polls_carries_every_piece_of_state():
    def script(run, n):
        if run == "run-1":
            return ended("failed")
        return running() if n < 7 else ended("succeeded")

    factory = FakeFactory(script, pollsPerGeneration=3, maxReruns=2)
    sim, rec = simulate(factory)
    sim.run()
    assert rec["executions"] == 2  # 1 + 3 + 3 polls: two generations after the first
    assert len(rec["history"]) < 30  # this generation's history only
    result = result_of(factory)
    assert (result["status"], result["adfRunIds"], result["reruns"]) == (
        "succeeded", ["run-1", "run-2"], 1)
    assert result["startedAt"] == T0.isoformat()  # the start of the whole run, not the generation
    # The interval keeps backing off across generations: 30 after the rerun, then doubling.
    assert poll_gaps(factory) == [0, 30, 60, 120, 240, 300, 300]
    assert len(factory.named(c.BEGIN_RUN)) == 1 and len(factory.named(c.START_ADF_RUN)) == 1


# --- batch_sealer -------------------------------------------------------------------------------

class FakeLanding:
    """`seal_batches` answers from a script of looks; `start_batch_runs` starts each batch's
    `pipeline_run` in the simulator, the way the real activity starts it through the client."""

    def __init__(self, looks: list[dict], factory: FakeFactory):
        self.looks, self.factory = looks, factory
        self.sealed: list[datetime] = []
        self.started: dict[str, datetime] = {}
        self.sim: Simulator | None = None

    def activities(self) -> dict:
        def seal(p):
            self.sealed.append(self.sim.now)
            return self.looks[len(self.sealed) - 1]

        def start(p):
            for b in p["batches"]:
                if b["batchId"] not in self.started:  # ensure_started: once per batch id
                    self.started[b["batchId"]] = self.sim.now
                    self.sim.start(c.PIPELINE_RUN, b["batchId"],
                                   json.dumps({"batch": b, "retry": RETRY}))
            return []

        return {**self.factory.activities(), c.SEAL_BATCHES: seal, c.START_RUNS: start}


def batch(bid: str) -> dict:
    return {**BATCH, "batchId": bid}


def sealer(looks, factory, window=60, quiet=8):
    landing = FakeLanding(looks, factory)
    sim = Simulator(ORCHESTRATORS, landing.activities(), T0 + timedelta(seconds=5))
    landing.sim = factory.sim = sim
    instance = c.sealer_instance_id("labelled", sim.now, window)
    rec = sim.start(c.BATCH_SEALER, instance, json.dumps(
        {"kind": "labelled", "windowSeconds": window, "quietSeconds": quiet, "retry": RETRY}))
    return sim, rec, landing


def test_the_sealer_waits_for_its_window_then_starts_every_batch_of_the_look():
    factory = FakeFactory(lambda run, n: ended("succeeded"))
    looks = [{"batches": [batch("b1"), batch("b2"), batch("b3")], "unsettled": 0}]
    sim, rec, landing = sealer(looks, factory)
    sim.run()
    window_end = T0 + timedelta(seconds=60)
    assert landing.sealed == [pytest.approx(window_end, abs=timedelta(milliseconds=5))]
    assert set(landing.started) == {"b1", "b2", "b3"}
    assert value(rec["output"]) == {"batches": ["b1", "b2", "b3"], "looks": 1}
    assert all(sim.records[b]["runtimeStatus"] == "Completed" for b in ("b1", "b2", "b3"))


def test_a_file_still_settling_starts_one_quiet_period_after_the_window_whatever_the_first_run_does():
    # A's ADF run takes ten hours; B was still settling when the window closed.
    factory = FakeFactory(lambda run, n: running() if n < 200 else ended("succeeded"))
    looks = [{"batches": [batch("A")], "unsettled": 1}, {"batches": [batch("B")], "unsettled": 0}]
    sim, rec, landing = sealer(looks, factory, window=15, quiet=8)
    sim.run(until=T0 + timedelta(minutes=5))
    window_end = T0 + timedelta(seconds=15)
    assert landing.started["A"] - window_end < timedelta(seconds=1)
    assert landing.started["B"] - window_end == pytest.approx(timedelta(seconds=8),
                                                              abs=timedelta(seconds=1))
    assert rec["runtimeStatus"] == "Completed"
    assert sim.records["A"]["runtimeStatus"] == "Running"  # and A is still going


def test_a_sealer_gives_up_after_its_last_look_and_leaves_the_rest_to_the_sweep():
    factory = FakeFactory(lambda run, n: ended("succeeded"))
    looks = [{"batches": [], "unsettled": 1}] * 5
    sim, rec, landing = sealer(looks, factory)
    sim.run()
    assert len(landing.sealed) == 5 and landing.started == {}
    assert value(rec["output"]) == {"batches": [], "looks": 5}


class FakeClient:
    """The Durable client methods `starters` uses, over the simulator's instances."""

    def __init__(self, sim: Simulator):
        self.sim, self.started = sim, []

    async def get_status(self, instance_id):
        rec = self.sim.records.get(instance_id)
        status = type("S", (), {})()
        status.runtime_status = (type("R", (), {"value": rec["runtimeStatus"]})()
                                 if rec else None)
        return status

    async def start_new(self, name, instance_id, payload):
        self.started.append(instance_id)
        self.sim.start(name, instance_id, json.dumps(payload))


def test_duplicate_and_late_events_of_one_window_land_on_one_sealer():
    import asyncio

    from shared.orchestration import starters
    from shared.services import Services
    from shared.settings import load_settings

    services = Services(load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                                       "EVENT_BATCH_WINDOW_SECONDS": "60"}))
    sim = Simulator(ORCHESTRATORS, {}, T0)
    client = FakeClient(sim)
    starters._started_sealers.clear()

    async def events():
        for seconds in (1, 1, 30, 59):  # a duplicate delivery and later files of the window
            await starters.note_landed_blob(client, services, "labelled",
                                            T0 + timedelta(seconds=seconds))
        starters._started_sealers.clear()  # another host process: asks Durable, not its cache
        await starters.note_landed_blob(client, services, "labelled", T0 + timedelta(seconds=2))
        await starters.note_landed_blob(client, services, "labelled", T0 + timedelta(seconds=61))

    asyncio.run(events())
    assert client.started == [c.sealer_instance_id("labelled", T0, 60),
                              c.sealer_instance_id("labelled", T0 + timedelta(seconds=61), 60)]


def test_events_of_two_feeds_in_one_window_land_on_each_feeds_own_sealer(tmp_path):
    import asyncio

    from shared.orchestration import starters
    from shared.services import Services
    from shared.settings import load_settings

    feeds = tmp_path / "feeds.json"
    feeds.write_text(open("feeds.example.json").read())
    services = Services(load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                                       "EVENT_BATCH_WINDOW_SECONDS": "60",
                                       "FEEDS_FILE": str(feeds)}))
    asked: list[dict] = []

    def seal(p):
        asked.append(p)
        return {"batches": [], "unsettled": 0}

    sim = Simulator(ORCHESTRATORS, {c.SEAL_BATCHES: seal}, T0)
    client = FakeClient(sim)
    starters._started_sealers.clear()

    async def events():
        for feed in (None, "diabetes", "diabetes", None):
            await starters.note_landed_blob(client, services, "labelled",
                                            T0 + timedelta(seconds=1), feed=feed)

    asyncio.run(events())
    digits, diabetes = (c.sealer_instance_id("labelled", T0, 60, tag) for tag in ("", "diabetes"))
    assert client.started == [digits, diabetes]
    assert diabetes == f"seal-diabetes-labelled-{int(T0.timestamp()) // 60 * 60}"
    sim.run()
    # Each sealer asks for its own feed's files (the default feed's input names none).
    assert sorted((p.get("feed", ""), p["kind"]) for p in asked) == [
        ("", "labelled"), ("diabetes", "labelled")]


# --- freshness_monitor ---------------------------------------------------------------------------

def test_the_monitor_checks_at_orchestration_time_and_continues_as_new_each_cycle():
    seen = []

    def check(p):
        seen.append(p)
        return {"intervalSeconds": 300, "findings": 2, "firing": ["data_stale"]}

    sim = Simulator(ORCHESTRATORS, {c.CHECK_FRESHNESS: check}, T0)
    rec = sim.start(c.FRESHNESS_MONITOR, c.MONITOR_INSTANCE,
                    json.dumps({"cycle": 0, "retry": RETRY}))
    sim.run(until=T0 + timedelta(minutes=16))
    assert [p["cycle"] for p in seen] == [0, 1, 2, 3]
    ats = [datetime.fromisoformat(p["at"]) for p in seen]
    assert ats[0] == T0
    assert [round((b - a).total_seconds()) for a, b in zip(ats, ats[1:], strict=False)] == [300] * 3
    assert rec["executions"] == 3 and len(rec["history"]) < 12  # bounded
    assert value(rec["input"])["retry"] == RETRY  # the policy is carried over
    assert rec["customStatus"] == {"cycle": 3, "findings": 2, "firing": ["data_stale"]}
