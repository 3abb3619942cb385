"""Every benchmark runs (short mode) and reports rows; the README table comes from a full run.

This test judges behaviour only: that each benchmark runs and reports, and that the goals
about correctness (exactly one ADF run per batch, every file once; the same list calls
whatever the history) hold. Performance goals (ratios of times, rates, memory) are judged
by the benchmark table of a full run, never here: a short run on a busy CI machine is too
noisy for them."""
import json
import subprocess
import sys

import pytest

from bench.__main__ import discover
from bench.common import CORRECTNESS, KINDS

pytestmark = pytest.mark.slow


def test_every_benchmark_runs_in_short_mode(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--short", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())
    assert {r["bench"] for r in rows} >= {"detection", "cold start", "event latency",
                                         "event burst", "replay", "scoring"}
    assert len({r["bench"] for r in rows}) >= len(discover())
    assert all(r["kind"] in KINDS and r["value"] for r in rows), rows
    assert "| bench | case |" in proc.stdout
    correctness = [r for r in rows if r["kind"] == CORRECTNESS]
    assert {(r["bench"], r["case"]) for r in correctness} >= {
        ("event burst", "ADF runs started vs batches")}
    assert {r["bench"] for r in correctness} >= {"event burst", "detection"}
    # every correctness goal is judged in a short run too, and holds
    assert [r for r in correctness if r["ok"] is not True] == []
