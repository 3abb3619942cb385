"""The run watcher's calls against the emulator with the app's real ADF client: one paged
`queryPipelineRuns` by factory per look, the emulator's request counts, and ARM-like
throttling that slows the watcher without failing anything."""
from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
import requests

from tests.integration.adf.conftest import pipeline

WAIT0 = [{"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}]


@pytest.fixture
def hook(emulator):
    """POST/DELETE/GET the emulator's test hooks; throttling and page size are put back."""
    def call(method: str, path: str, body=None) -> dict:
        r = requests.request(method, f"{emulator.endpoint}/_emulator/{path}", json=body,
                             verify=str(emulator.ca_file), timeout=10)
        r.raise_for_status()
        return r.json()

    yield call
    call("DELETE", "throttle")
    call("POST", "settings", {"pageSize": 100})


def test_one_look_pages_through_every_run_updated_in_the_window_exactly_once(adf, deploy, hook):
    deploy(p_watch=pipeline(WAIT0))
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    created = {adf.start_run("p_watch", f"w{i}", {})["runId"] for i in range(7)}
    hook("POST", "settings", {"pageSize": 3})
    hook("DELETE", "counts")
    runs = adf.runs_updated(t0, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert sorted(r["runId"] for r in runs) == sorted(created)
    counts = hook("GET", "counts")["value"]
    assert counts == {"Microsoft.DataFactory/factories/querypipelineruns/action": 3}
    # A window that ends before the runs were created sees none of them.
    assert adf.runs_updated(t0 - dt.timedelta(hours=1), t0) == []


def test_throttling_answers_429_with_retry_after_and_slows_the_watcher_without_failing(
        adf, deploy, hook, app_env):
    from shared.orchestration.starters import watch_and_hand_over
    from shared.services import get_services

    deploy(p_throttle=pipeline(WAIT0))
    adf.start_run("p_throttle", "t1", {})
    services = get_services()
    client = services.adf
    waits: list[float] = []
    client.sleep = lambda s: (waits.append(s), time.sleep(s))  # the retries' waits
    low = services.settings.arm_reads_low
    hook("POST", "throttle", {"read": {"capacity": 3, "refillPerSecond": 2}})
    hook("DELETE", "counts")
    now = dt.datetime.now(dt.UTC)
    for _ in range(6):  # more reads than the bucket holds: 429s, retried after Retry-After
        assert client.runs_updated(now - dt.timedelta(minutes=5), now)
    counts = hook("GET", "counts")
    assert counts["throttled"] >= 1 and waits and all(w >= 1 for w in waits)
    assert client.budget.remaining is not None and client.budget.remaining < low
    assert client.budget.slowdown(low) > 1

    class NoEvents:
        async def raise_event(self, *a):
            raise AssertionError("no run of ours is running")

    services.state.delete("watcher/last-look.json")  # a look is due
    result = asyncio.run(watch_and_hand_over(NoEvents(), services))
    assert "error" not in result and "skipped" not in result
    wait = (dt.datetime.fromisoformat(result["nextLookAt"])
            - dt.datetime.fromisoformat(result["lookedAt"])).total_seconds()
    assert wait > services.settings.watch_interval_seconds
    beat, _ = services.state.read_json("watcher/last-look.json")
    assert beat["slowdown"] > 1 and beat["remainingReads"] < low and beat == result


def test_a_finished_custom_activity_leaves_no_working_folder_behind(adf, deploy, emulator):
    from tests.integration.adf.conftest import custom, wait_for

    deploy(p_clean=pipeline([custom("A", "echo hello > out.txt")]))
    run = adf.start_run("p_clean", "clean-1", {})
    status = wait_for(adf, run["runId"])
    assert status["status"] == "succeeded"
    run_ids = [a["activityRunId"] for a in adf._activity_runs(adf._get_run(run["runId"]))]
    batch = emulator.state_dir / "batch"
    assert run_ids and not [r for r in run_ids if (batch / r).exists()]


class NoOwners:
    """A Durable client no event should reach: no run of these tests has a run record."""

    async def raise_event(self, *a):
        raise AssertionError("no run of ours is running")


@pytest.mark.parametrize("state, heartbeat, named", [
    (b"{not json", b"{not json", "state: Invalid JSON"),
    (b'{"since": "yesterday", "tracked": {"r1": {"owner": "b1"}}}', b"[1, 2]",
     "since: Value error, Invalid isoformat string: 'yesterday'; "
     "tracked.r1.lastUpdated: is required"),
])
def test_a_malformed_watcher_state_is_named_and_replaced_and_the_watcher_goes_on(
        adf, app_env, caplog, state, heartbeat, named):
    from shared.orchestration.starters import watch_and_hand_over
    from shared.services import get_services

    services = get_services()
    services.state.put("watcher/state.json", state)
    services.state.put("watcher/last-look.json", heartbeat)
    result = asyncio.run(watch_and_hand_over(NoOwners(), services))
    assert "lookedAt" in result, result  # it looked, afresh (an hour back)
    carried, _ = services.state.read_json("watcher/state.json")
    assert set(carried) == {"since", "tracked", "pending"}
    assert carried["since"] == result["lookedAt"]
    beat, _ = services.state.read_json("watcher/last-look.json")
    assert beat == result
    assert f"watcher/state.json is not a watcher state ({named}" in caplog.text
