"""`make demo --feed diabetes`: the example regression feed's story runs to the end. (The
digits story, the default, is told once for its test and the dashboard's browser tests, in
`test_demo_and_dashboard.py`.)"""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_tells_the_regression_feeds_story_through_events_and_its_own_sealers():
    proc = subprocess.run([sys.executable, "-m", "devstack", "demo", "--feed", "diabetes"],
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "1. a labelled batch lands (diabetes feed)" in out and "demo passed" in out
    assert "landed diabetes/labelled/" in out and "rmse" in out
    assert "alert Fired prediction_drift" in out and "alert Resolved prediction_drift" in out
    assert "diabetes-labelled-" in out and "diabetes-unlabelled-" in out
