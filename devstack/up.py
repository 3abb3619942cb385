"""`make up` / `make down`: keep the local stack running in the foreground."""
from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from urllib.parse import quote

from devstack.azurite import ROOT
from devstack.stack import EXAMPLE_SETTINGS, LocalStack

STATE = ROOT / ".devstack"
SETTINGS_FILE = ROOT / "local.settings.json"


def ensure_local_settings(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """The settings file's values, generated from the example file when missing."""
    if not path.exists():
        path.write_text(EXAMPLE_SETTINGS.read_text())
        print(f"generated {path} from {EXAMPLE_SETTINGS.name}", flush=True)
    return dict(json.loads(path.read_text())["Values"])


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devstack up|down")
    p.add_argument("--root", type=Path, default=STATE, help="where the stack keeps its data")
    p.add_argument("--settings", type=Path, default=SETTINGS_FILE,
                   help="local.settings.json to use (generated from the example if missing)")
    p.add_argument("--free-ports", action="store_true",
                   help="pick free ports instead of the documented defaults (7071, 7443, 10000-2)")
    return p.parse_args(argv)


def _host_listing(host, timeout: float = 15.0) -> list[str]:
    """The functions and keys the host stand-in printed at start (as `func start` does); it
    serves a moment before it prints them."""
    import time

    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = host.log_path.read_text(errors="replace")
        start = text.rfind("Functions:\n")
        end = text.find("Host started", start)
        if start >= 0 and end > start:
            text = text[start:end]
            break
        time.sleep(0.1)
    return ["  " + line.replace("\t", "  ") for line in text.splitlines()
            if line.startswith(("Functions:", "Keys:", "Durable API", "Blob watcher", "\t"))]


def dashboard_url(host) -> str:
    """The dashboard's overview with the function key, ready to open in a browser."""
    return f"{host.base_url}/api/dashboard?code={quote(host.function_key or '', safe='')}"


def describe(stack: LocalStack) -> str:
    s = stack.settings()
    host = stack.host
    lines = [
        "adf-ml-glue local stack is up",
        f"  host stand-in   {host.base_url}  (function key: {host.function_key})",
        f"  dashboard       {dashboard_url(host)}",
        f"  Durable API     {host.base_url}/runtime/webhooks/durabletask/instances",
        f"  Data Factory    {stack.emulator.endpoint}  (CA: {stack.emulator.ca_file})",
        f"  Azurite         blob 127.0.0.1:{stack.azurite.blob_port}, queue "
        f"{stack.azurite.queue_port}, table {stack.azurite.table_port}",
        f"  alert receiver  {stack.receiver.url}",
        f"  batch endpoint  {stack.endpoint.endpoint_uri}  (Azure ML stand-in; runs use it "
        "with SCORE_TARGET=aml-endpoint or scoreTarget)",
        *_host_listing(host),
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
    args = _args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    pid_file = args.root / "up.pid"
    stack = LocalStack(args.root, fixed_ports=not args.free_ports,
                       base_settings=ensure_local_settings(args.settings))
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stack.start()
        pid_file.write_text(str(os.getpid()))
        print(describe(stack), flush=True)
        stopping.wait()
    finally:
        print("stopping the local stack ...", flush=True)
        stack.stop()
        pid_file.unlink(missing_ok=True)
    return 0


def down(argv: list[str]) -> int:
    pid_file = _args(argv).root / "up.pid"
    if not pid_file.exists():
        print(f"no local stack is running (no {pid_file})")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
        print(f"asked the stack (pid {pid}) to stop")
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        print("the stack was not running; removed a stale pid file")
    return 0
