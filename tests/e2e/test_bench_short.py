"""Every benchmark runs (short mode) and reports rows; the README table comes from a full run."""
import json
import subprocess
import sys

import pytest

from bench.__main__ import discover

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
    # Goals that a short run can judge must hold (exactly-once in the burst, cold start...).
    assert [r for r in rows if r["ok"] is False] == []
    assert "| bench | case |" in proc.stdout
