"""`make up` / `make down`: keep the local stack running in the foreground."""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from devstack.azurite import ROOT
from devstack.stack import EXAMPLE_SETTINGS, LocalStack

STATE = ROOT / ".devstack"
PID_FILE = STATE / "up.pid"
SETTINGS_FILE = ROOT / "local.settings.json"


def ensure_local_settings() -> dict[str, str]:
    """`local.settings.json`, generated from the example file when missing."""
    if not SETTINGS_FILE.exists():
        SETTINGS_FILE.write_text(EXAMPLE_SETTINGS.read_text())
        print(f"generated {SETTINGS_FILE.name} from {EXAMPLE_SETTINGS.name}")
    return dict(json.loads(SETTINGS_FILE.read_text())["Values"])


def describe(stack: LocalStack) -> str:
    s = stack.settings()
    host = stack.host
    lines = [
        "adf-ml-glue local stack is up",
        f"  host stand-in   {host.base_url}  (function key: {host.function_key})",
        f"  Durable API     {host.base_url}/runtime/webhooks/durabletask/instances",
        f"  Data Factory    {stack.emulator.endpoint}  (CA: {stack.emulator.ca_file})",
        f"  Azurite         blob 127.0.0.1:{stack.azurite.blob_port}, queue "
        f"{stack.azurite.queue_port}, table {stack.azurite.table_port}",
        f"  alert receiver  {stack.receiver.url}",
        "  routes:",
        *[f"    {r}" for r in getattr(host, "routes", [])],
        "  data:",
        f"    land files in container '{s.get('LANDING_CONTAINER', 'landing')}' under "
        "labelled/YYYY/MM/DD/ or unlabelled/YYYY/MM/DD/",
        f"    models, predictions, curated data: container '{s.get('ML_CONTAINER', 'ml-data')}'",
        f"    claims, manifests, run records, alerts: container "
        f"'{s.get('STATE_CONTAINER', 'glue-state')}'",
        "  stop with Ctrl-C or `make down`",
    ]
    return "\n".join(lines)


def up(argv: list[str]) -> int:
    STATE.mkdir(exist_ok=True)
    stack = LocalStack(STATE, fixed_ports=True, base_settings=ensure_local_settings())
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stack.start()
        PID_FILE.write_text(str(os.getpid()))
        print(describe(stack), flush=True)
        stopping.wait()
    finally:
        print("stopping the local stack ...", flush=True)
        stack.stop()
        PID_FILE.unlink(missing_ok=True)
    return 0


def down(argv: list[str]) -> int:
    if not PID_FILE.exists():
        print("no local stack is running (no .devstack/up.pid)")
        return 0
    pid = int(Path(PID_FILE).read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"asked the stack (pid {pid}) to stop")
    except ProcessLookupError:
        PID_FILE.unlink(missing_ok=True)
        print("the stack was not running; removed a stale pid file")
    return 0
