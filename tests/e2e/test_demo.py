"""`make demo`'s story runs to the end on this machine and its summary shows every step."""
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_tells_the_whole_story_and_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "devstack", "demo"], capture_output=True,
                          text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for step in ("1. a labelled batch lands", "2. an unlabelled batch lands",
                 "3. a drifted batch lands", "4. a clean batch lands", "demo passed"):
        assert step in out, step
    assert "decision promoted" in out.replace("[bold]", "") or "first-model" in out
    assert "alert Fired prediction_drift" in out and "alert Resolved prediction_drift" in out
    assert "train-and-score" in out and "3 fired, 3 resolved" in out


def test_demo_tells_the_regression_feeds_story_through_events_and_its_own_sealers():
    proc = subprocess.run([sys.executable, "-m", "devstack", "demo", "--feed", "diabetes"],
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "1. a labelled batch lands (diabetes feed)" in out and "demo passed" in out
    assert "landed diabetes/labelled/" in out and "rmse" in out
    assert "alert Fired prediction_drift" in out and "alert Resolved prediction_drift" in out
    assert "diabetes-labelled-" in out and "diabetes-unlabelled-" in out
