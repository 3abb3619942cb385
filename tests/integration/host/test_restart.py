"""Restart safety: SIGKILL the host in the middle of an orchestration, start it again on the
same Azurite and task hub; the instance resumes from its recorded history."""
from __future__ import annotations

import json
import time
import uuid

import requests

from devstack.host import HostProcess
from tests.integration.host.conftest import DURABLE_APP, host_settings
from tests.polling import wait_until


def test_sigkill_mid_orchestration_then_restart_resumes(azurite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    settings = host_settings(azurite, out, SAMPLE_SLOW_SECONDS="3")
    state = tmp_path / "state"
    key = uuid.uuid4().hex[:8]
    first = HostProcess(settings, app=DURABLE_APP, state_dir=state).start()
    try:
        r = requests.post(f"{first.base_url}/api/start/restartable", data=json.dumps(key))
        mgmt = r.json()
        # Kill while the slow second activity is running: the first one is recorded.
        wait_until(lambda: (out / f"slow-{key}-2.log").exists())
        assert (out / f"counted-{key}-1.log").exists()
    finally:
        first.kill()
    assert first.proc is None

    second = HostProcess(settings, port=first.port, app=DURABLE_APP, state_dir=state).start()
    try:
        status_url = mgmt["statusQueryGetUri"]
        done = wait_until(lambda: (s := requests.get(status_url).json())["runtimeStatus"]
                        not in ("Pending", "Running") and s, timeout=60)
        assert done["runtimeStatus"] == "Completed", second.output()
        assert done["output"] == [f"done {key}-1", f"slow {key}-2", f"done {key}-3",
                                  f"done {key}-4"]
        runs = {p.stem: len(p.read_text().splitlines()) for p in out.glob(f"*-{key}-*.log")}
        assert runs[f"counted-{key}-1"] == 1  # completed before the kill: not re-run
        assert 1 <= runs[f"slow-{key}-2"] <= 2  # in flight at the kill: at most twice
        assert runs[f"counted-{key}-3"] == 1 and runs[f"counted-{key}-4"] == 1
        history = requests.get(status_url, params={"showHistory": "true"}).json()
        fired = [e for e in history["historyEvents"] if e["EventType"] == "TimerFired"]
        assert len(fired) == 1
    finally:
        second.stop()


def test_sigkill_while_a_timer_is_pending_then_restart_fires_it(azurite, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    settings = host_settings(azurite, out)
    state = tmp_path / "state"
    first = HostProcess(settings, app=DURABLE_APP, state_dir=state).start()
    try:
        mgmt = requests.post(f"{first.base_url}/api/start/timer_then_done",
                             data=json.dumps(3)).json()
        wait_until(lambda: requests.get(mgmt["statusQueryGetUri"]).json()["customStatus"]
                 == "waiting")
    finally:
        first.kill()
    time.sleep(3.5)  # the timer comes due while no host is running
    second = HostProcess(settings, port=first.port, app=DURABLE_APP, state_dir=state).start()
    try:
        done = wait_until(lambda: (s := requests.get(mgmt["statusQueryGetUri"]).json())
                        ["runtimeStatus"] == "Completed" and s, timeout=30)
        assert done["customStatus"] == "woke"
        assert done["output"] >= 3.0
    finally:
        second.stop()


def test_storage_restarting_mid_orchestration_loses_nothing(tmp_path):
    from devstack.azurite import Azurite

    storage = Azurite(tmp_path / "azurite").start()
    out = tmp_path / "out"
    out.mkdir()
    settings = host_settings(storage, out, SAMPLE_SLOW_SECONDS="3")
    host = HostProcess(settings, app=DURABLE_APP, state_dir=tmp_path / "state").start()
    key = uuid.uuid4().hex[:8]
    try:
        mgmt = requests.post(f"{host.base_url}/api/start/restartable",
                             data=json.dumps(key)).json()
        wait_until(lambda: (out / f"slow-{key}-2.log").exists())
        storage.stop()  # gone while the slow activity runs and tries to report
        time.sleep(4)
        storage.start()
        done = wait_until(lambda: (s := requests.get(mgmt["statusQueryGetUri"]).json())
                        ["runtimeStatus"] == "Completed" and s, timeout=60)
        assert done["output"][1] == f"slow {key}-2"
        runs = {p.stem: len(p.read_text().splitlines()) for p in out.glob(f"*-{key}-*.log")}
        assert runs == {f"counted-{key}-1": 1, f"slow-{key}-2": 1, f"counted-{key}-3": 1,
                        f"counted-{key}-4": 1}
    finally:
        host.stop()
        storage.stop()
