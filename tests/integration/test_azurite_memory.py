"""Azurite as devstack starts it collects its garbage every minute (`azurite_memory.js`), so
its RSS follows what it holds: the preload, run by node with `--trace-gc`, is seen to."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

from devstack.azurite import MEMORY_PRELOAD, Azurite


def _forced_collections(gc_seconds: str, script: str) -> tuple[int, float]:
    """(full collections the preload asked for, seconds node ran) for `script`."""
    env = {**os.environ, "DEVSTACK_AZURITE_GC_SECONDS": gc_seconds}
    t0 = time.monotonic()
    out = subprocess.run([shutil.which("node"), "--expose-gc", "--trace-gc", "--require",
                          str(MEMORY_PRELOAD), "-e", script], env=env, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return sum("testing" in line for line in out.splitlines()), time.monotonic() - t0


def test_azurite_runs_with_the_memory_preload_and_gc_exposed(tmp_path):
    command = Azurite(tmp_path).command()
    assert "--expose-gc" in command[:2]
    assert str(MEMORY_PRELOAD) in command


def test_the_preload_collects_every_interval_and_never_keeps_node_running():
    collected, _ = _forced_collections("0.3", "setTimeout(() => {}, 1500)")
    assert collected >= 3  # about five in 1.5 s
    assert _forced_collections("0", "setTimeout(() => {}, 1000)")[0] == 0  # 0: never
    _, seconds = _forced_collections("60", "0")
    assert seconds < 10  # the interval is unref'd: node exits when Azurite would
