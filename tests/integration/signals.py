"""Whether a process has a handler installed for a signal (Linux: /proc/<pid>/status)."""
from __future__ import annotations


def catches(pid: int, sig: int) -> bool:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    raise AssertionError(f"no SigCgt line for pid {pid}")
