"""The real train_and_score pipeline from adf/ on the emulator, with the real training code
uploaded the way a release does, over a generated batch: a model, its metrics and the
predictions end up in Azurite."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.integration.adf.conftest import wait_for

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def _manifest(app_env, batch_id: str, blob: str) -> str:
    """The batch manifest landing-zone detection writes; returns manifestPath."""
    from shared.services import get_services

    svc = get_services()
    landing = svc.landing
    assert landing.container_name == app_env["LANDING_CONTAINER"]
    props = landing.get_blob_client(blob).get_blob_properties()
    doc = {"batchId": batch_id, "kind": "labelled", "container": app_env["LANDING_CONTAINER"],
           "createdAt": dt.datetime.now(dt.UTC).isoformat(),
           "files": [{"name": blob, "size": props.size, "etag": props.etag,
                      "lastModified": props.last_modified.isoformat()}]}
    svc.state.put(f"manifests/{batch_id}.json", doc)
    return f"{app_env['STATE_CONTAINER']}/manifests/{batch_id}.json"


def test_train_and_score_runs_end_to_end_and_leaves_model_metrics_predictions(adf, app_env):
    from shared.services import get_services
    from shared.storage import blob_service
    from training.generate import upload_batch
    from training.package import upload_package

    deployed = adf.deploy(ROOT / "adf")
    assert "train_and_score" in deployed["pipelines"]
    svc = get_services()
    ml_name = app_env["ML_CONTAINER"]
    version = upload_package(blob_service(svc.settings), ml_name)
    blob = upload_batch("labelled", 600, "clean", seed=3, container=app_env["LANDING_CONTAINER"],
                        service=blob_service(svc.settings))
    batch_id = "e2e-batch-1"
    started = adf.start_run("train_and_score", batch_id, {
        "manifestPath": _manifest(app_env, batch_id, blob), "codeVersion": version,
        "mode": "train_and_score", "mlContainer": ml_name,
        "trainOptions": json.dumps({"epochs": 40}),
    })
    status = wait_for(adf, started["runId"], timeout=300)
    assert status["status"] == "succeeded", json.dumps(status, indent=1)[:4000]
    assert [a["name"] for a in status["activities"]] == ["Preprocess", "Train", "Score"]

    pre, train, score = (status["outputs"][n] for n in ("Preprocess", "Train", "Score"))
    assert pre["rowsIn"] == 600 and pre["rowsOut"] + pre["rowsRejected"] == 600
    assert train["decision"] == "first-model" and train["promoted"] is True
    assert train["accuracy"] > 0.5
    assert score["rows"] == pre["rowsOut"] and score["modelVersion"] == train["modelVersion"]

    ml = svc.ml.container
    assert ml.container_name == ml_name
    names = {b.name for b in ml.list_blobs()}
    model = f"models/{train['modelVersion']}/"
    assert f"{model}metrics.json" in names
    assert any(n.startswith(model) and n.endswith((".keras", ".h5")) for n in names)
    champion = json.loads(ml.download_blob("models/champion.json").readall())
    assert champion["version"] == train["modelVersion"]
    predictions = ml.download_blob(f"predictions/{batch_id}/predictions.csv").readall().decode()
    lines = predictions.strip().splitlines()
    assert lines[0].startswith("id,class,confidence") and len(lines) == score["rows"] + 1
