"""Free loopback ports for local services.

A port is picked below the kernel's ephemeral range (where `bind(0)` and every outgoing
connection take theirs), so the client sockets a test opens while a stack starts cannot
take a port handed out for a service that binds it seconds later. A port is handed out
once per process."""
from __future__ import annotations

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


def free_port() -> int:
    low, high = RANGE[0], min(RANGE[1], _ephemeral_low())
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
