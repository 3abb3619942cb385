"""A local-stack process that says it is ready can be stopped at once, gracefully.

Each one (Azurite, the Data Factory emulator, the host stand-in) is stopped with SIGTERM the
moment it reports ready; it must exit 0 (its own handler ran), not -15 (killed by the
signal's default action because its handler was installed only after it reported ready).
"""
from __future__ import annotations

import signal
import subprocess

from devstack.adf import EmulatorProcess
from devstack.azurite import Azurite
from devstack.host import HostProcess
from tests.integration.host.conftest import WEB_APP, host_settings
from tests.integration.signals import catches
from tests.polling import wait_until


def test_emulator_process_stopped_as_soon_as_it_serves_exits_cleanly(azurite, tmp_path):
    for attempt in range(3):
        emu = EmulatorProcess(tmp_path / f"emu{attempt}", azurite.connection_string).start()
        proc = emu.proc
        assert catches(proc.pid, signal.SIGTERM), "serving before the SIGTERM handler is in"
        emu.stop()
        assert proc.returncode == 0


def test_host_process_stopped_as_soon_as_it_serves_exits_cleanly(azurite, tmp_path):
    host = HostProcess(host_settings(azurite, tmp_path, TICK_SCHEDULE="0 0 0 1 1 *"),
                       app=WEB_APP, state_dir=tmp_path / "state").start()
    proc = host.proc
    assert catches(proc.pid, signal.SIGTERM), "serving before the SIGTERM handler is in"
    host.stop()
    assert proc.returncode == 0, host.output()


def test_azurite_stopped_as_soon_as_it_listens_exits_cleanly(tmp_path):
    az = Azurite(tmp_path / "ready").start()
    proc = az.proc
    az.stop()
    assert proc.returncode == 0


def test_azurite_stopped_while_it_starts_still_stops_gracefully(tmp_path):
    """Azurite installs its handlers only after its ports listen; the devstack preloads a
    hold that hands an early SIGTERM over to them (devstack/azurite_signals.js)."""
    az = Azurite(tmp_path / "starting")
    az.location.mkdir(parents=True)
    log = az.location / "azurite.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(az.command(), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: log.exists() and "Blob service is starting" in log.read_text(errors="replace"),
                   f"Azurite's log {log} says it is starting", interval=0.01)  # running, not yet listening
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert "Table service successfully closed" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
