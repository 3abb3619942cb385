"""The emulator as a process: runs and activity records survive a crash (SIGKILL), and an
activity whose process was lost is retried per its policy or failed saying so."""
from __future__ import annotations

import os
import time

import pytest

from devstack.adf import EmulatorProcess
from tests.integration.adf.conftest import custom, pipeline, wait_for
from tests.polling import wait_until


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_file(path) -> str:
    return wait_until(lambda: path.exists() and path.read_text().strip(), f"{path} is written",
                      interval=0.05)


@pytest.fixture
def process_emulator(azurite, tmp_path, settings_env, adf_env):
    """An emulator subprocess with the app's settings pointed at it (they follow the
    environment: the `adf` fixture, requested after this one, builds its client for it)."""
    emu = EmulatorProcess(tmp_path / "emu", azurite.connection_string).start()
    settings_env.setenv("ADF_ENDPOINT", emu.endpoint)
    settings_env.setenv("ADF_CA_BUNDLE", str(emu.ca_file))
    yield emu
    emu.stop()


def test_runs_survive_a_crash_and_lost_activities_are_retried_or_failed(
        process_emulator, deploy, adf, tmp_path):
    retried_pid, lost_pid, marker = tmp_path / "retried.pid", tmp_path / "lost.pid", tmp_path / "m"
    deploy(
        # first try hangs (its process will be lost); the retry finds the marker and succeeds
        p_retried=pipeline([custom(
            "Work", f"if [ -f {marker} ]; then echo second try; exit 0; fi; touch {marker}; "
                    f"echo $$ > {retried_pid}; sleep 120",
            policy={"retry": 1, "retryIntervalInSeconds": 0})]),
        p_lost=pipeline([custom("Work", f"echo $$ > {lost_pid}; sleep 120")]),
        p_done=pipeline([custom("Work", "echo finished")]),
    )
    done = adf.start_run("p_done", "b-done", {})
    assert wait_for(adf, done["runId"])["status"] == "succeeded"
    retried = adf.start_run("p_retried", "b-retried", {})
    lost = adf.start_run("p_lost", "b-lost", {})
    pids = [int(_wait_file(retried_pid)), int(_wait_file(lost_pid))]
    assert all(_alive(p) for p in pids)

    process_emulator.kill()  # a crash: no chance to clean up
    assert all(_alive(p) for p in pids)  # orphans, as a crashed emulator leaves them
    process_emulator.start()

    # the restarted emulator kills the orphans and records what happened
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, "orphaned activity processes still running"
        time.sleep(0.05)
    ok = wait_for(adf, retried["runId"])
    assert ok["status"] == "succeeded" and ok["activities"][0]["attempts"] == 2
    failed = wait_for(adf, lost["runId"])
    assert failed["status"] == "failed"
    assert "restarted" in failed["error"]["message"] and "lost" in failed["error"]["message"]
    # what finished before the crash is still there
    before = adf.run_status(done["runId"])
    assert before["status"] == "succeeded" and before["activities"][0]["status"] == "succeeded"
    assert adf.start_run("p_done", "b-done", {})["runId"] == done["runId"]


def test_a_graceful_stop_kills_activity_processes_and_the_next_start_resumes(
        process_emulator, deploy, adf, tmp_path):
    pidfile, marker = tmp_path / "work.pid", tmp_path / "m"
    deploy(p_resume=pipeline([custom(
        "Work", f"if [ -f {marker} ]; then echo resumed; exit 0; fi; touch {marker}; "
                f"echo $$ > {pidfile}; sleep 120",
        policy={"retry": 1, "retryIntervalInSeconds": 0})]))
    run = adf.start_run("p_resume", "b-resume", {})
    pid = int(_wait_file(pidfile))
    process_emulator.stop()
    assert not _alive(pid)
    process_emulator.start()
    status = wait_for(adf, run["runId"])
    assert status["status"] == "succeeded" and status["activities"][0]["attempts"] == 2


def test_command_line_prints_the_endpoint_and_writes_the_ca(azurite, tmp_path):
    import signal
    import subprocess
    import sys

    from devstack.ports import free_port
    from tests.integration.signals import catches

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.adf", "--port", str(port), "--state-dir",
         str(tmp_path / "cli"), "--storage-connection-string", azurite.connection_string],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))))
    try:
        first = proc.stdout.readline().strip()
        # what it prints means "ready": a SIGTERM from now on is a graceful stop (exit 0)
        assert catches(proc.pid, signal.SIGTERM), "endpoint printed before the SIGTERM handler"
        assert first == f"ADF_ENDPOINT=https://127.0.0.1:{port}"
        assert proc.stdout.readline().strip() == f"ADF_CA_BUNDLE={tmp_path / 'cli' / 'ca.pem'}"
        assert "BEGIN CERTIFICATE" in (tmp_path / "cli" / "ca.pem").read_text()
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
