"""`python -m devstack.adf --port PORT --state-dir DIR --storage-connection-string CONN`

Starts the Data Factory emulator, prints its endpoint and CA file (point ADF_ENDPOINT and
ADF_CA_BUNDLE at them), and serves until SIGTERM/Ctrl-C. The storage given here stands in
for every linked storage account (see devstack/adf/emulator.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from devstack.adf.emulator import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.adf", description=__doc__.split("\n")[2])
    parser.add_argument("--port", type=int, default=7443)
    parser.add_argument("--state-dir", default=".devstack/adf")
    parser.add_argument("--storage-connection-string",
                        default=os.environ.get("STORAGE_CONNECTION_STRING"),
                        help="default: $STORAGE_CONNECTION_STRING")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.storage_connection_string:
        parser.error("--storage-connection-string (or STORAGE_CONNECTION_STRING) is required")
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    # The handlers go in before anything can tell a parent that we are ready (the port
    # accepting connections, the endpoint printed): a parent that stops us as soon as it
    # sees either must get a graceful stop, not Python's default SIGTERM death (-15).
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    emulator = Emulator(args.state_dir, args.storage_connection_string, args.port).start()
    print(f"ADF_ENDPOINT={emulator.endpoint}", flush=True)
    print(f"ADF_CA_BUNDLE={emulator.ca_file.resolve()}", flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
