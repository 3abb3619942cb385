"""Stopping the local stack's child processes."""
from __future__ import annotations

import os
import signal
import subprocess


def signal_and_wait(proc: subprocess.Popen | None, sig: int, timeout: float = 20.0,
                    group: bool = False) -> None:
    """Send `sig` to `proc` (its whole process group when `group`) and wait for it to exit;
    SIGKILL it if it does not within `timeout`. A process already gone is fine."""
    if proc is None or proc.poll() is not None:
        return

    def send(s: int) -> None:
        try:
            os.killpg(proc.pid, s) if group else proc.send_signal(s)
        except ProcessLookupError:
            pass

    send(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(10)
