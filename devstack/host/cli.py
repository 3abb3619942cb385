"""`python -m devstack.host --settings PATH --port 7071 [--app function_app]
[--state-dir .devstack/host]`: run the app as `func start` would, print its routes, keys and
the Durable API base, and serve until SIGINT/SIGTERM."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devstack.host.config import ConfigError, HostConfig, apply_settings, read_settings_file


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m devstack.host",
                                description="Local Azure Functions host stand-in")
    p.add_argument("--settings", type=Path, default=Path("local.settings.json"),
                   help="settings file in local.settings.json format")
    p.add_argument("--port", type=int, default=None,
                   help="HTTP port (default: Host.LocalHttpPort of the settings file, or 7071)")
    p.add_argument("--app", default="function_app", help="module with the one module-level FunctionApp/DFApp (any variable name)")
    p.add_argument("--state-dir", type=Path, default=Path(".devstack/host"),
                   help="where the host keeps its keys file")
    p.add_argument("--script-root", type=Path, default=Path.cwd(),
                   help="folder with host.json and the app (default: current folder)")
    p.add_argument("--log-level", default=os.environ.get("DEVSTACK_HOST_LOG_LEVEL", "INFO"))
    return p.parse_args(argv)


def _local_http_port(path: Path) -> int | None:
    import json

    try:
        port = (json.loads(path.read_text()).get("Host") or {}).get("LocalHttpPort")
    except (OSError, ValueError):
        return None
    return int(port) if port else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Handlers first: a SIGTERM that arrives while the app is imported or the host starts
    # (a parent giving up, a test stopping us as soon as we serve) is a graceful stop, not
    # Python's default death by signal (-15) with the stores left half written.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    from devstack.host import memdebug

    memdebug.install()  # DEVSTACK_HOST_MEMDEBUG only: off by default
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.storage"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        values = read_settings_file(args.settings)
        apply_settings(values)  # before the app is imported, as the real host does
        state_dir = args.state_dir.resolve()
        root = args.script_root.resolve()
        sys.path.insert(0, str(root))
        os.chdir(root)
        port = args.port if args.port is not None else _local_http_port(args.settings)
        config = HostConfig.load(dict(os.environ), root / "host.json", port)
        from devstack.host.host import Host, keys_path
        from devstack.host.index import index_app, load_app
        from devstack.host.keys import load_or_create

        keys = load_or_create(keys_path(state_dir))
        host = Host(index_app(load_app(args.app)), config, keys, dict(os.environ))
    except (ConfigError, LookupError, ValueError, ImportError) as exc:
        print(f"devstack host: {exc}", file=sys.stderr)
        return 2
    if stop.is_set():  # asked to stop before we started serving
        return 0
    try:
        host.start()
    except Exception as exc:  # storage unreachable, most often
        print(f"devstack host: could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    print("\n".join(host.describe()), flush=True)
    print(f"\nHost started: {host.base_url} (Ctrl+C to stop)", flush=True)
    stop.wait()
    print("devstack host: stopping", file=sys.stderr, flush=True)
    host.stop()
    # Activities still running are not waited for: their instances re-run them on the next
    # start (delivery is at least once), so stopping stays quick.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)
