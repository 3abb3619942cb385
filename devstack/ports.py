"""Free loopback ports for local services.

A port is picked below the kernel's ephemeral range (where `bind(0)` and every outgoing
connection take theirs), so the client sockets a test opens while a stack starts cannot
take a port handed out for a service that binds it seconds later. A port is handed out
once per process.

`DEVSTACK_PORT_RANGE=low-high` narrows the range: processes that start stacks at the same
time (the test suite's parallel workers, with everything they launch) each get their own
slice, so no two can pick the same port between choosing it and binding it."""
from __future__ import annotations

import os
import random
import socket
import threading
import time

# Below Linux's default ephemeral range (32768-60999) and above the well-known services.
RANGE = (20000, 32000)
_given: set[int] = set()
_lock = threading.Lock()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_range() -> tuple[int, int]:
    """RANGE, or the slice DEVSTACK_PORT_RANGE gives; always below the ephemeral range."""
    low, high = RANGE
    raw = os.environ.get("DEVSTACK_PORT_RANGE", "").strip()
    if raw:
        try:
            low, high = (int(part) for part in raw.split("-"))
        except ValueError:
            raise ValueError(f"DEVSTACK_PORT_RANGE: expected low-high, got {raw!r}") from None
        if not 1024 <= low < high <= 65535:
            raise ValueError(f"DEVSTACK_PORT_RANGE: {raw!r} is not a range within 1024-65535")
    return low, min(high, _ephemeral_low())


def free_port() -> int:
    low, high = port_range()
    with _lock:
        for _ in range(1000):
            port = random.randrange(low, high)
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts connections on `port`, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.05)
