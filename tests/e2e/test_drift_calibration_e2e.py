"""Issue 17 end to end on the local stack: small clean batches do not page anyone, a drifted
one raises prediction and dataset drift, and the next clean one resolves them."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import module_stack, wait_alerts

pytestmark = pytest.mark.slow

DRIFT = ("prediction_drift", "feature_drift", "dataset_drift")
# Runs start only through POST /runs: no events, so no sealer can claim a file first.
stack = module_stack("calibration", {"DEVSTACK_EVENTGRID_WATCH": ""})


def _start(stack, kind, rows, variant="clean", seed=0, name=None) -> str:
    blob = stack.land(kind, rows, variant, seed, name=name)
    return stack.api.start({"files": [blob]})["runs"][0]["batchId"]


def _run(stack, kind, rows, variant="clean", seed=0, name=None) -> dict:
    return stack.api.wait_for_run(_start(stack, kind, rows, variant, seed, name), timeout=240)


def test_ten_clean_small_batches_page_no_one_then_drift_fires_and_resolves(stack):
    champion = _run(stack, "labelled", 1000, seed=71, name="calib-train")
    assert champion["status"] == "succeeded" and champion["outputs"]["Train"]["promoted"]

    # Ten runs at once (the factory runs them side by side), each judged on its own.
    batches = [_start(stack, "unlabelled", 100, "clean", seed=700 + i, name=f"calib-clean-{i}")
               for i in range(10)]
    assert len(set(batches)) == 10
    for batch_id in batches:
        run = stack.api.wait_for_run(batch_id, timeout=400)
        assert run["status"] == "succeeded"
        judged = {c["kind"]: c for c in run["checks"] if c["kind"] in DRIFT}
        assert set(judged) == set(DRIFT)  # judged at 100 rows, not skipped as too few
        assert [c for c in judged.values() if c["firing"]] == [], judged
        assert [a for a in run["alerts"] if a["kind"] in DRIFT] == []

    drifted = _run(stack, "unlabelled", 100, "drifted", seed=790, name="calib-drifted")
    fired = {a["kind"] for a in drifted["alerts"] if a["type"] == "Fired"}
    assert {"prediction_drift", "dataset_drift"} <= fired
    receiver = stack.stack.receiver
    for kind in ("prediction_drift", "dataset_drift"):
        (alert,) = wait_alerts(receiver, kind, "Fired")
        assert alert["signatureValid"] is True

    clean = _run(stack, "unlabelled", 100, "clean", seed=791, name="calib-clean-after")
    resolved = {a["kind"] for a in clean["alerts"] if a["type"] == "Resolved"}
    assert {"prediction_drift", "dataset_drift"} <= resolved
    for kind in ("prediction_drift", "dataset_drift"):
        (alert,) = wait_alerts(receiver, kind, "Resolved")
        assert alert["signatureValid"] is True
