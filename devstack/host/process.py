"""Run the host stand-in as a subprocess (tests, the demo): start it, wait until it serves,
stop it gracefully or kill it hard (SIGKILL) to test restart safety."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.ports import free_port
from devstack.processes import signal_and_wait

ROOT = Path(__file__).resolve().parents[2]


class HostProcess:
    def __init__(self, settings: dict[str, str] | Path, port: int | None = None,
                 app: str = "function_app", cwd: Path = ROOT, state_dir: Path | None = None):
        self.cwd = Path(cwd)
        self.state_dir = Path(state_dir) if state_dir else self.cwd / ".devstack" / "host"
        self.port = port or free_port()
        self.app = app
        if isinstance(settings, dict):
            self.state_dir.mkdir(parents=True, exist_ok=True)
            path = self.state_dir / f"local.settings.{self.port}.json"
            path.write_text(json.dumps({"IsEncrypted": False, "Values": settings}, indent=2))
            self.settings_path = path
        else:
            self.settings_path = Path(settings)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.state_dir / f"host.{self.port}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _keys(self) -> dict:
        return json.loads((self.state_dir / "keys.json").read_text())

    @property
    def master_key(self) -> str:
        return self._keys()["masterKey"]

    @property
    def function_key(self) -> str:
        return self._keys()["functionKeys"]["default"]

    def system_key(self, name: str) -> str:
        return self._keys()["systemKeys"][name]

    def start(self, timeout: float = 60.0) -> HostProcess:
        import requests

        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "devstack.host", "--settings", str(self.settings_path),
               "--port", str(self.port), "--app", self.app, "--state-dir", str(self.state_dir),
               "--script-root", str(self.cwd)]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get(
            "PYTHONPATH", ""), PYTHONUNBUFFERED="1")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"host exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(f"{self.base_url}/admin/host/ping", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"host did not serve within {timeout}s:\n{self.output()}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._signal(signal.SIGKILL, 20.0)

    def _signal(self, sig: int, timeout: float) -> None:
        signal_and_wait(self.proc, sig, timeout, group=True)
        self.proc = None

    def __enter__(self) -> HostProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
