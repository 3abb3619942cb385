"""The emulator assembled: state, engine, HTTPS server; in this process or as a subprocess.

Locally the storage behind every `AzureBlobStorage` linked service is the one given by
`storage_connection_string` (Azurite): Custom activities download `folderPath` from it,
their logs go to its `adfjobs` container, and their commands get it as
STORAGE_CONNECTION_STRING. The linked services' real endpoints and identities are kept as
deployed (and written to linkedServices.json) but not used.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from devstack.ports import free_port, wait_for_port
from devstack.processes import signal_and_wait

log = logging.getLogger("devstack.adf")
ROOT = Path(__file__).resolve().parents[2]


class _Location:
    """Where an emulator listens and keeps its state (CA file included)."""

    def __init__(self, state_dir: Path | str, storage_connection_string: str,
                 port: int | None = None):
        self.state_dir = Path(state_dir)
        self.storage_connection_string = storage_connection_string
        self.port = port or free_port()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "ca.pem"


class Emulator(_Location):
    """The emulator inside this process (fast tests); `.endpoint`, `.ca_file`."""

    def __init__(self, state_dir: Path | str, storage_connection_string: str,
                 port: int | None = None):
        super().__init__(state_dir, storage_connection_string, port)
        self.server = None
        self.engine = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        from azure.storage.blob import BlobServiceClient

        from devstack.adf.activities import BatchHost
        from devstack.adf.certs import ensure_certificates
        from devstack.adf.engine import Engine
        from devstack.adf.server import Api, make_server
        from devstack.adf.store import Store

        self.state_dir.mkdir(parents=True, exist_ok=True)
        _, cert, key = ensure_certificates(self.state_dir)
        store = Store(self.state_dir / "state")
        host = BatchHost(
            work_root=self.state_dir / "batch",
            storage_connection_string=self.storage_connection_string,
            blob_service=BlobServiceClient.from_connection_string(self.storage_connection_string),
        )
        self.engine = Engine(store, host)
        self.api = Api(store, self.engine)
        self.server = make_server(self.api, self.port, str(cert), str(key))
        # Recover before serving: a request that arrives meanwhile waits in the listen
        # backlog instead of seeing (or changing) runs a previous process left half done.
        self.engine.recover()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="adf-emulator-http")
        self._thread.start()
        log.info("Data Factory emulator listening on %s (CA %s)", self.endpoint, self.ca_file)
        return self

    def stop(self) -> None:
        """Stop serving; runs in progress are left to resume at the next start (their
        processes are killed, so those activities count as lost and retry per policy)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.engine is not None:
            self.engine.shutdown()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmulatorProcess(_Location):
    """`python -m devstack.adf` as a subprocess: for restart and kill tests and the devstack."""

    def __init__(self, state_dir: Path | str, storage_connection_string: str,
                 port: int | None = None):
        super().__init__(state_dir, storage_connection_string, port)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> EmulatorProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.state_dir / "emulator.log", "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.adf", "--port", str(self.port),
             "--state-dir", str(self.state_dir),
             "--storage-connection-string", self.storage_connection_string],
            stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            start_new_session=True,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the ADF emulator exited with {self.proc.returncode}; see "
                                   f"{self.state_dir / 'emulator.log'}")
            try:
                wait_for_port(self.port, 0.2)
                return self
            except TimeoutError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise

    def stop(self) -> None:
        """SIGTERM: the emulator stops serving and kills what it runs (see Emulator.stop)."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the emulator alone (as a crash would): its activity processes survive
        until a restarted emulator finds and kills them."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        signal_and_wait(self.proc, sig, 20)
        self.proc = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
