"""Fast checks of the host stand-in's pure parts: routes, keys, configuration, the blob
watcher's journal reading, and the Durable state machine run in memory (no storage, simulated
clock) for the cases that are hard to provoke over HTTP."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import azure.durable_functions as df
import pytest

from devstack.host.config import ConfigError, HostConfig, parse_watch, resolve
from devstack.host.durable.engine import DurableEngine
from devstack.host.durable.history import iso
from devstack.host.durable.simulate import Simulator
from devstack.host.keys import load_or_create
from devstack.host.routes import Route
from devstack.host.store import ConcurrencyError
from devstack.host.watcher import Write, last_versions, read_writes
from tests.polling import wait_until

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- routes ------------------------------------------------------------------------------

@pytest.mark.parametrize("template,path,expected", [
    ("api/items/{id:int}", "/api/items/42", {"id": "42"}),
    ("api/items/{id:int}", "/api/items/x", None),
    ("api/items/{id:int}", "/api/items/42/more", None),
    ("api/Runs/{name?}", "/api/runs", {}),
    ("api/runs/{name?}", "/api/runs/b%201", {"name": "b 1"}),
    ("api/files/{*path}", "/api/files/a/b.csv", {"path": "a/b.csv"}),
    ("api/health", "/api/health/", {}),
])
def test_route_templates(template, path, expected):
    assert Route.parse(template).match(path) == expected


def test_literal_routes_take_precedence_over_parameters():
    routes = sorted([Route.parse("api/{name}"), Route.parse("api/health")],
                    key=lambda r: r.precedence)
    assert routes[0].template == "api/health"


# --- keys --------------------------------------------------------------------------------

def test_keys_are_created_once_and_check_levels(tmp_path):
    keys = load_or_create(tmp_path / "keys.json")
    assert load_or_create(tmp_path / "keys.json") == keys  # kept across restarts
    assert keys.allows("anonymous", None)
    assert keys.allows("function", keys.function) and keys.allows("function", keys.master)
    assert not keys.allows("function", None) and not keys.allows("function", "nope")
    assert not keys.allows("admin", keys.function) and keys.allows("admin", keys.master)
    egk = keys.system["eventgrid_extension"]
    assert keys.allows("system", egk, "eventgrid_extension")
    assert not keys.allows("system", egk, "durabletask_extension")


# --- configuration -----------------------------------------------------------------------

def test_percent_settings_resolve_or_name_the_missing_setting():
    assert resolve("%A% and %B%", {"A": "1", "B": "2"}, "x") == "1 and 2"
    with pytest.raises(ConfigError, match="SWEEP_SCHEDULE"):
        resolve("%SWEEP_SCHEDULE%", {}, "timer sweep schedule")


def test_task_hub_comes_from_host_json_through_the_setting(tmp_path):
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps({"extensions": {"durableTask": {
        "hubName": "%TASK_HUB_NAME%", "maxConcurrentActivityFunctions": 3},
        "http": {"routePrefix": ""}}}))
    config = HostConfig.load({"TASK_HUB_NAME": "myhub"}, host_json, 8000)
    assert (config.task_hub, config.max_activities, config.route_prefix) == ("myhub", 3, "")
    with pytest.raises(ConfigError, match="task hub name 'no-dashes'"):
        HostConfig.load({"TASK_HUB_NAME": "no-dashes"}, host_json, 8000)


def test_devstack_settings_are_checked():
    assert parse_watch("landing=on_blob, other = fn2") == {"landing": "on_blob",
                                                           "other": "fn2"}
    with pytest.raises(ConfigError, match="DEVSTACK_EVENTGRID_WATCH"):
        parse_watch("landing")
    with pytest.raises(ConfigError, match="DEVSTACK_EVENTGRID_POLL_SECONDS"):
        HostConfig.load({"DEVSTACK_EVENTGRID_POLL_SECONDS": "soon"}, None, None)
    with pytest.raises(ConfigError, match="DEVSTACK_EVENTGRID_WATCH needs "
                                          "DEVSTACK_EVENTGRID_JOURNAL"):
        HostConfig.load({"DEVSTACK_EVENTGRID_WATCH": "landing=fn"}, None, None)


# --- blob watcher: reading the writes journal ---------------------------------------------

def line(container: str, blob: str, etag: str = '"0x1"', api: str = "PutBlob") -> bytes:
    return json.dumps({"container": container, "blob": blob, "etag": etag,
                       "lastModified": "", "api": api}).encode() + b"\n"


def test_the_journal_is_read_from_where_the_last_read_ended_whole_lines_only(tmp_path):
    journal = tmp_path / "blob-writes.jsonl"
    assert read_writes(journal, 0) == ([], 0)  # Azurite has written nothing yet
    first, second = line("landing", "a/1.csv"), line("landing", "a/2 é.csv", api="PutBlockList")
    journal.write_bytes(first + second[:10])  # the second line is still being written
    writes, offset = read_writes(journal, 0)
    assert writes == [Write("landing", "a/1.csv", "0x1", "PutBlob", len(first))]
    assert offset == len(first)
    with journal.open("ab") as f:
        f.write(second[10:])
    writes, offset = read_writes(journal, offset)
    assert [(w.blob, w.api, w.end) for w in writes] == [("a/2 é.csv", "PutBlockList",
                                                         len(first + second))]
    assert read_writes(journal, offset) == ([], offset)  # nothing new: nothing again


def test_a_line_that_is_not_a_write_is_named_and_passed_over(tmp_path, caplog):
    journal = tmp_path / "blob-writes.jsonl"
    good = line("landing", "b.csv")
    journal.write_bytes(b"not json\n" + b'{"container": "landing"}\n' + good)
    writes, offset = read_writes(journal, 0)
    assert [w.blob for w in writes] == ["b.csv"] and offset == journal.stat().st_size
    assert "at byte 0 is not a blob write" in caplog.text
    assert "at byte 9 is not a blob write" in caplog.text


def test_of_a_blob_written_twice_between_two_polls_only_the_last_version_is_announced():
    first, other, second = (Write("landing", "a.csv", "0x1", "PutBlob", 10),
                            Write("landing", "b.csv", "0x2", "PutBlob", 20),
                            Write("landing", "a.csv", "0x3", "PutBlockList", 30))
    same_name_elsewhere = Write("other", "a.csv", "0x4", "PutBlob", 40)
    assert last_versions([first, other, second, same_name_elsewhere]) == [
        other, second, same_name_elsewhere]


def test_a_read_takes_at_most_its_limit_and_a_journal_shorter_than_the_offset_is_new(
        tmp_path, caplog):
    journal = tmp_path / "blob-writes.jsonl"
    lines = [line("landing", f"f{i}.csv") for i in range(3)]
    journal.write_bytes(b"".join(lines))
    writes, offset = read_writes(journal, 0, limit=len(lines[0]) + 5)
    assert [w.blob for w in writes] == ["f0.csv"] and offset == len(lines[0])
    writes, offset = read_writes(journal, offset)
    assert [w.blob for w in writes] == ["f1.csv", "f2.csv"]
    journal.write_bytes(lines[2])  # Azurite's folder was made anew
    writes, again = read_writes(journal, offset)
    assert [w.blob for w in writes] == ["f2.csv"] and again == len(lines[2])
    assert "reading it from the start" in caplog.text
    journal.write_bytes(b"x" * 50)  # no line end within the limit: skipped, not stuck
    assert read_writes(journal, 0, limit=20) == ([], 20)


# --- the Durable state machine in memory ----------------------------------------------------

app = df.DFApp()
attempts: dict[str, int] = {}


@app.orchestration_trigger(context_name="context")
def retry_fan_out(context):
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=4)
    tasks = [context.call_activity_with_retry("fails_twice", opts, f"{context.instance_id}-{i}")
             for i in range(5)]
    tasks.append(context.call_activity("echo", "plain"))
    return (yield context.task_all(tasks))


@app.orchestration_trigger(context_name="context")
def with_deadline(context):
    deadline = context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
    answer = context.wait_for_external_event("answer")
    winner = yield context.task_any([answer, deadline])
    if winner == answer:
        deadline.cancel()
        return f"answered {answer.result}"
    return "timed out"


def fails_twice(key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] <= 2:
        raise RuntimeError(f"attempt {attempts[key]}")
    return key


changing = {"calls": 2}


@app.orchestration_trigger(context_name="context")
def changes_its_mind(context):
    for _ in range(changing["calls"]):
        yield context.call_activity("echo", "x")
    yield context.wait_for_external_event("go")
    return "done"


@app.orchestration_trigger(context_name="context")
def echo_once(context):
    return (yield context.call_activity("echo", context.get_input()))


ORCHESTRATORS = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}


def simulator() -> Simulator:
    return Simulator(ORCHESTRATORS, {"fails_twice": fails_twice, "echo": lambda x: x}, T0)


def test_many_retrying_activities_failing_in_the_same_episodes_all_complete():
    sim = simulator()
    instance_id = uuid.uuid4().hex[:6]
    rec = sim.start("retry_fan_out", instance_id)
    sim.run()
    assert rec["runtimeStatus"] == "Completed", rec["output"]
    assert rec["output"] == [f"{instance_id}-{i}" for i in range(5)] + ["plain"]
    assert sim.activity_runs["fails_twice"] == 15


def test_a_cancelled_timer_never_fires():
    sim = simulator()
    rec = sim.start("with_deadline", "d1")
    sim.run(fire_timers=False)
    sim.raise_event("d1", "answer", "yes")
    sim.run()
    assert rec["output"] == "answered yes"
    assert not any(e["EventType"] == 11 for e in rec["history"])  # no TimerFired
    late = sim.start("with_deadline", "d2")
    sim.run()  # nothing answers: the simulated clock runs to the deadline
    assert late["output"] == "timed out"
    assert iso(sim.now) >= iso(T0 + timedelta(minutes=5))


@pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")  # the SDK notices too
def test_an_orchestrator_that_replays_differently_fails_naming_non_determinism():
    sim = simulator()
    rec = sim.start("changes_its_mind", "nd")
    sim.run()
    changing["calls"] = 1  # the code changed while the instance was waiting
    sim.raise_event("nd", "go", None)
    sim.run()
    assert rec["runtimeStatus"] == "Failed"
    assert "Non-deterministic workflow detected" in rec["output"]


# --- the Durable engine keeps nothing per finished instance ----------------------------------

class MemoryHubStore:
    """HubStore's instance-record interface over a dict (ETags are a counter)."""

    task_hub = "memory"

    def __init__(self):
        self.blobs: dict[str, tuple[str, str]] = {}
        self.writes = 0

    def ensure(self):
        return self

    def load(self, instance_id):
        found = self.blobs.get(instance_id)
        return (None, None) if found is None else (json.loads(found[0]), found[1])

    def save(self, rec, etag):
        current = self.blobs.get(rec["instanceId"])
        if (current[1] if current else None) != etag:
            raise ConcurrencyError(f"instance {rec['instanceId']!r} was changed")
        self.writes += 1
        self.blobs[rec["instanceId"]] = (json.dumps(rec), str(self.writes))
        return str(self.writes)

    def delete(self, instance_id):
        return self.blobs.pop(instance_id, None) is not None

    def list_instances(self, prefix=""):
        for instance_id in sorted(self.blobs):
            if instance_id.startswith(prefix):
                rec = json.loads(self.blobs[instance_id][0])
                yield instance_id, {"runtimestatus": rec["runtimeStatus"]}

    def active_instance_ids(self):
        return [i for i, m in self.list_instances()
                if m["runtimestatus"] not in ("Completed", "Failed", "Terminated")]


def test_the_engine_keeps_no_per_instance_state_once_instances_finish():
    """A host that runs for days runs instances without end: what the engine holds in memory
    for an instance (its lock, its cached record, its place in the running set) must go
    when the instance finishes, and a status query of a finished one must add nothing."""
    engine = DurableEngine(MemoryHubStore(), ORCHESTRATORS, {"echo": lambda x: x},
                           max_orchestrators=4, max_activities=4).start()
    ids = [f"run-{i:03}" for i in range(30)]
    try:
        for instance_id in ids:
            engine.start_new("echo_once", instance_id, json.dumps(instance_id))
        wait_until(lambda: all(engine.get(i)["runtimeStatus"] == "Completed" for i in ids))
        assert engine.get(ids[0])["output"] == ids[0]
        engine.list_records()  # what the Durable API's list/query does
        wait_until(lambda: not engine._running)  # an episode ends just after its last save
        assert engine._locks == {}
        assert engine._cache == {}
    finally:
        engine.stop()


def test_the_memory_debug_hook_is_off_by_default_and_dumps_on_sigusr1(tmp_path, monkeypatch):
    import os
    import signal

    from devstack.host import memdebug

    before = signal.getsignal(signal.SIGUSR1)
    monkeypatch.delenv(memdebug.ENV, raising=False)
    memdebug.install()
    assert signal.getsignal(signal.SIGUSR1) is before  # nothing installed without the setting
    monkeypatch.setenv(memdebug.ENV, str(tmp_path))
    monkeypatch.delenv(memdebug.TRACE_ENV, raising=False)
    try:
        memdebug.install()
        os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs before kill returns here
        rows = (tmp_path / "stats.tsv").read_text().splitlines()
        assert len(rows) == 2 and rows[0].startswith("n\ttime\trss_kb")
        row = dict(zip(rows[0].split("\t"), rows[1].split("\t"), strict=True))
        assert len(row) == 15 and int(row["rss_kb"]) > 0
        assert int(row["anon_kb"]) > 0 and int(row["arenas"]) > 0  # pymalloc arenas in use
        assert "\tdict\n" in (tmp_path / "types-1.txt").read_text()
    finally:
        signal.signal(signal.SIGUSR1, before)


def test_the_traced_peak_of_a_line_is_the_apps_not_the_hooks_own(tmp_path, monkeypatch):
    import os
    import signal
    import tracemalloc

    from devstack.host import memdebug

    before = signal.getsignal(signal.SIGUSR1)
    monkeypatch.setenv(memdebug.ENV, str(tmp_path))
    monkeypatch.setenv(memdebug.TRACE_ENV, "1")
    try:
        memdebug.install()
        os.kill(os.getpid(), signal.SIGUSR1)
        held = bytearray(4 * 1024 * 1024)  # the app's transient high between two lines
        del held
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR1)  # nothing in between: no high above the floor
        rows = (tmp_path / "stats.tsv").read_text().splitlines()
        lines = [dict(zip(rows[0].split("\t"), r.split("\t"), strict=True)) for r in rows[1:]]
        high = [int(x["traced_peak"]) - int(x["traced"]) for x in lines]
        assert high[1] >= 3 * 1024 * 1024  # the app's 4 MiB shows in its interval
        assert high[2] < 1024 * 1024  # and the hook's dump (objects, snapshot) does not
    finally:
        tracemalloc.stop()
        signal.signal(signal.SIGUSR1, before)
