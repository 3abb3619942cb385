"""Start and stop Azurite (pinned in package.json) for the local stack and the tests."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_for_port
from devstack.processes import signal_and_wait

ROOT = Path(__file__).resolve().parent.parent
# Azurite's documented development account: public, not a secret.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(blob_port: int, queue_port: int, table_port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob_port}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/{DEV_ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table_port}/{DEV_ACCOUNT};"
    )


SIGNALS_PRELOAD = Path(__file__).resolve().parent / "azurite_signals.js"
WRITES_PRELOAD = Path(__file__).resolve().parent / "azurite_writes.js"


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if not found:
        raise FileNotFoundError("azurite not found: run `npm ci` (or `make setup`) first")
    return found


@dataclass
class Azurite:
    """One Azurite process on loopback with its data in `location`."""

    location: Path
    blob_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)
    table_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_port, self.queue_port, self.table_port)

    @property
    def journal(self) -> Path:
        """The blob writes journal `azurite_writes.js` appends to (the Event Grid stand-in's
        source: `DEVSTACK_EVENTGRID_JOURNAL`)."""
        return self.location / "blob-writes.jsonl"

    def command(self) -> list[str]:
        """Azurite's command line: node runs the npm package's script with two preloads.
        `azurite_signals.js`: a stop that comes before Azurite has installed its signal
        handlers (they go in after its ports listen) is still a graceful stop, not death by
        SIGTERM. `azurite_writes.js`: every blob created or replaced is a line in `journal`."""
        binary = azurite_binary()
        script = Path(binary).resolve()
        node = shutil.which("node")
        if not node or script.suffix != ".js":
            raise FileNotFoundError(f"azurite at {binary} is not the npm package's node script "
                                    "(devstack preloads into it): run `npm ci` first")
        return [
            node, "--require", str(SIGNALS_PRELOAD), "--require", str(WRITES_PRELOAD),
            str(script), "--silent", "--disableTelemetry", "--skipApiVersionCheck",
            "--loose", "--location", str(self.location),
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
        ]

    def environment(self) -> dict[str, str]:
        """Azurite's environment: ours, what the writes preload needs, and one malloc arena
        unless MALLOC_ARENA_MAX is set already. With glibc's default of one arena per thread
        that allocates, the four threads of node's pool each kept their own arena and those
        grew for the whole of an hour's soak (14 -> 21 MB in 47 minutes, the larger part of
        Azurite's growth after its warm-up; see the README's soak rows)."""
        return {"MALLOC_ARENA_MAX": "1", **os.environ,
                "DEVSTACK_AZURITE_WRITES": str(self.journal),
                "DEVSTACK_AZURITE_BLOB_PORT": str(self.blob_port)}

    def start(self, timeout: float = 60.0) -> Azurite:
        self.location.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        log = open(self.location / "azurite.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=self.environment())
        log.close()
        for port in (self.blob_port, self.queue_port, self.table_port):
            wait_for_port(port, timeout)
        return self

    def stop(self, kill: bool = False) -> None:
        signal_and_wait(self.proc, signal.SIGKILL if kill else signal.SIGTERM, 10, group=True)
        self.proc = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
