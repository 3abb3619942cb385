"""Fault tests: kill each part of the local stack in the middle of a run and restart it; the
run ends correctly with exactly one ADF run per batch and no lost files."""
from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import module_stack

pytestmark = pytest.mark.slow


stack = module_stack("faults", {"EVENT_BATCH_WINDOW_SECONDS": "1"})


def _wait_for_stage(stack, blob: str, stages: set[str], timeout: float = 120) -> dict:
    """The run record of `blob` once its live status shows one of `stages`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in stack.api.runs(50):
            if blob in {f["name"] for f in r.get("files", [])}:
                full = stack.api.run(r["batchId"])
                live = (full.get("live") or {}).get("customStatus") or {}
                if live.get("stage") in stages and full.get("adfRunIds"):
                    return full
        time.sleep(0.3)
    raise TimeoutError(f"{blob}: no run reached {stages}")


def _finishes_with_one_adf_run(stack, blob: str) -> dict:
    (run,) = stack.api.wait_for_runs_of([blob], timeout=300)
    assert run["status"] == "succeeded", run.get("error")
    assert len(run["adfRunIds"]) == 1
    assert len(stack.adf_runs_for(run["batchId"])) == 1
    assert [f["name"] for f in run["files"]] == [blob]
    return run


def test_host_killed_while_polling_resumes_and_finishes_with_one_adf_run(stack):
    blob = stack.land("labelled", 600, seed=21, name="fault-host")
    _wait_for_stage(stack, blob, {"Preprocess", "Train"})
    stack.stack.host.kill()
    time.sleep(1)
    stack.stack.host.start()
    _finishes_with_one_adf_run(stack, blob)


def test_emulator_killed_mid_run_is_restarted_and_the_run_still_ends_right(stack):
    """Train's policy has no retry (adf/), so the activity whose process died with the
    emulator fails the run, saying so; the glue reports it, starts nothing twice, and the
    rerun endpoint recovers the batch from the failed activity."""
    blob = stack.land("labelled", 600, seed=22, name="fault-adf")
    _wait_for_stage(stack, blob, {"Train"})
    stack.stack.emulator.kill()
    health = stack.api.request("GET", "health/details")
    assert health.status_code == 503
    assert health.json()["checks"]["dataFactory"]["ok"] is False
    assert health.json()["checks"]["storage"]["ok"] is True
    time.sleep(1)
    stack.stack.emulator.start()
    (run,) = stack.api.wait_for_runs_of([blob], timeout=300)
    assert run["status"] == "failed"
    assert run["error"]["activity"] == "Train" and "lost" in run["error"]["message"]
    assert len(run["adfRunIds"]) == 1 and len(stack.adf_runs_for(run["batchId"])) == 1
    assert stack.api.request("POST", f"runs/{run['batchId']}/rerun").status_code == 202
    again = stack.api.wait_for_rerun(run["batchId"], 2)
    assert again["status"] == "succeeded", again.get("error")
    assert again["outputs"]["Train"]["promoted"] in (True, False)
    assert [f["name"] for f in again["files"]] == [blob]


def test_azurite_stopped_mid_run_is_restarted_and_nothing_is_lost(stack):
    """Storage goes away and comes back. Azurite is stopped, not SIGKILLed: it saves its
    metadata on an interval, so a SIGKILL loses writes it had acknowledged, which real
    storage never does; an outage is what this test is about."""
    blob = stack.land("labelled", 400, seed=23, name="fault-azurite")
    _wait_for_stage(stack, blob, {"Preprocess", "Train"})
    stack.stack.azurite.stop()
    time.sleep(2)
    stack.stack.azurite.start()
    _finishes_with_one_adf_run(stack, blob)
