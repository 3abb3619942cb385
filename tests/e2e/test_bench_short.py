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


def _run_in_groups(tmp_path, groups: int) -> tuple[list[dict], str]:
    """The short benchmarks in `groups` processes at once (they mostly wait on their stacks,
    and this test judges no timing): rows and output of all of them."""
    names = discover()
    procs = []
    for i in range(groups):  # output to files: a full pipe would stall a group
        out, log, err = (tmp_path / f"{i}.{ext}" for ext in ("json", "out", "err"))
        with open(log, "w") as so, open(err, "w") as se:
            procs.append((out, log, err, subprocess.Popen(
                [sys.executable, "-m", "bench", "--short", "--json", str(out), *names[i::groups]],
                stdout=so, stderr=se)))
    rows, stdout = [], ""
    for out, log, err, proc in procs:
        assert proc.wait(timeout=900) == 0, err.read_text()[-3000:]
        rows += json.loads(out.read_text())
        stdout += log.read_text()
    return rows, stdout


def test_every_benchmark_runs_in_short_mode(tmp_path):
    rows, stdout = _run_in_groups(tmp_path, 2)
    assert {r["bench"] for r in rows} >= {"detection", "cold start", "event latency",
                                         "event burst", "replay", "scoring"}
    assert len({r["bench"] for r in rows}) >= len(discover())
    assert all(r["kind"] in KINDS and r["value"] for r in rows), rows
    assert stdout.count("| bench | case |") == 2
    correctness = [r for r in rows if r["kind"] == CORRECTNESS]
    assert {(r["bench"], r["case"]) for r in correctness} >= {
        ("event burst", "ADF runs started vs batches")}
    assert {r["bench"] for r in correctness} >= {"event burst", "detection"}
    # every correctness goal is judged in a short run too, and holds
    assert [r for r in correctness if r["ok"] is not True] == []
