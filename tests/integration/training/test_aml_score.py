"""The batch deployment's scoring script (`training.aml_score`, init()/run(mini_batch)) gives
the same predictions as the Batch path's scorer (`training.score`) on the same rows, and the
local batch endpoint stand-in runs it as the service would: a job per invoke, the output
file written once, a job whose output exists failing with that error."""
from __future__ import annotations

import time

import pytest
import requests

from devstack.adf.activities import managed_identity_token
from devstack.aml_endpoint import BatchEndpointStandIn

pytestmark = pytest.mark.slow
API = "?api-version=2020-09-01-dataplanepreview"


def _body(ml_input: str, ml_output: str) -> dict:
    return {"properties": {
        "InputData": {"input_data": {"JobInputType": "UriFolder", "Uri": ml_input}},
        "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": ml_output}}}}


def _wait(endpoint: BatchEndpointStandIn, name: str, headers: dict) -> dict:
    deadline = time.monotonic() + 120
    while True:
        job = requests.get(f"{endpoint.endpoint_uri}/{name}{API}", headers=headers,
                           timeout=10).json()
        if job["properties"]["status"] in ("Completed", "Failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.3)


def _scored(ml_env, tmp_path):
    """A champion, an unlabelled batch curated and scored by the Batch path's scorer (the
    programs run in this process: one TensorFlow import for the whole test)."""
    from training import preprocess, score, train
    from training.activity import Context
    from training.generate import make_batch

    def run(program, **params):
        ctx = Context(params={"mlContainer": ml_env.ml, "codeVersion": "test",
                              "trainOptions": "{}", **params},
                      workdir=tmp_path, connection_string=ml_env.conn)
        return program.run(ctx, None)

    for batch_id, kind, rows, seed in (("b-unl", "unlabelled", 300, 31),
                                       ("b-lab", "labelled", 600, 32)):
        name = f"{kind}/2026/02/03/{batch_id}.csv"
        ml_env.store.write_bytes(ml_env.landing, name, make_batch(kind, rows, "clean", seed).csv)
        run(preprocess, batchId=batch_id, manifestPath=ml_env.manifest(batch_id, kind, [name]))
    run(train, batchId="b-lab", trainOptions='{"epochs": 3}')
    run(score, batchId="b-unl", mode="score_only")
    return ml_env


def test_scoring_script_and_endpoint_match_the_batch_scorer(ml_env, tmp_path, monkeypatch):
    scored = _scored(ml_env, tmp_path)
    _in_process(scored, tmp_path, monkeypatch)
    ml = scored.ml
    expected = scored.store.read_bytes(ml, "predictions/b-unl/predictions.csv").decode()
    expected_rows = expected.splitlines()[1:]  # the Batch scorer writes a header
    endpoint = BatchEndpointStandIn(scored.conn, {"mldata": ml}, model_container=ml).start()
    try:
        headers = {"Authorization": f"Bearer {managed_identity_token('https://ml.azure.com')}"}
        out = "azureml://datastores/mldata/paths/predictions/b-unl/endpoint/one/predictions.csv"
        r = requests.post(endpoint.endpoint_uri + API, headers=headers, timeout=10,
                          json=_body("azureml://datastores/mldata/paths/curated/b-unl/", out))
        assert r.status_code == 200, r.text
        job = _wait(endpoint, r.json()["name"], headers)
        assert job["properties"]["status"] == "Completed", job
        written = scored.store.read_bytes(ml, "predictions/b-unl/endpoint/one/predictions.csv")
        assert written.decode().splitlines() == expected_rows  # same rows, same predictions
        assert len(expected_rows) == 300

        # The same output again: the job fails, as the service's does, and writes nothing.
        again = requests.post(endpoint.endpoint_uri + API, headers=headers, timeout=10,
                              json=_body("azureml://datastores/mldata/paths/curated/b-unl/", out))
        failed = _wait(endpoint, again.json()["name"], headers)
        assert failed["properties"]["status"] == "Failed"
        assert "already exists" in failed["properties"]["error"]["message"]
        assert scored.store.read_bytes(
            ml, "predictions/b-unl/endpoint/one/predictions.csv") == written
    finally:
        endpoint.stop()


def _in_process(scored, tmp_path, monkeypatch):
    """init()/run() called as the deployment calls them, in this process."""
    from training import aml_score
    from training.curated import prefix

    ml = scored.ml
    shards = []
    for name in scored.store.list_names(ml, prefix("b-unl")):
        (tmp_path / name.rsplit("/", 1)[1]).write_bytes(scored.store.read_bytes(ml, name))
        shards.append(str(tmp_path / name.rsplit("/", 1)[1]))
    pointer = scored.store.read_json(ml, "models/champion.json")
    model_dir = tmp_path / "model" / "champion" / "1"
    model_dir.mkdir(parents=True)
    (model_dir / "model.keras").write_bytes(scored.store.read_bytes(
        *pointer["modelPath"].split("/", 1)))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path / "model"))
    aml_score.init()
    lines = aml_score.run(sorted(shards))  # _manifest.json is in the mini-batch: skipped
    expected = scored.store.read_bytes(ml, "predictions/b-unl/predictions.csv").decode()
    assert lines == expected.splitlines()[1:]
