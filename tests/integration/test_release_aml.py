"""The Azure ML part of a release against Azurite and a recording workspace (azure-ai-ml
is optional and not installed here): the champion is registered once, the deployment is
updated to serve it with the staged scoring script, nothing is written when it already
does, a new champion moves it on; and the definitions in infra/aml/ fit the pipeline."""
from __future__ import annotations

import ast
import json
import uuid
from pathlib import Path

import pytest
import yaml

from release.aml import (
    AML_ROOT,
    MODEL_NAME,
    deployment_for,
    load_definitions,
    problems,
    publish_champion,
    stage_code,
)

ROOT = Path(__file__).resolve().parents[2]


class RecordingWorkspace:
    def __init__(self):
        self.models: dict[str, dict] = {}
        self.served: str | None = None
        self.calls: list[tuple] = []

    def model_versions(self, name):
        return {v for (n, v) in self.models if n == name}

    def register_model(self, name, version, path, tags):
        files = {p.name: p.read_bytes() for p in Path(path).iterdir()}
        self.models[(name, version)] = {"files": files, "tags": tags}
        self.calls.append(("register", version))

    def served_model(self, endpoint, deployment):
        return self.served

    def ensure(self, kind, definition, base):
        self.calls.append(("ensure", kind, definition["name"]))

    def deploy(self, definition, base):
        code = Path(definition["code_configuration"]["code"])
        script = code / definition["code_configuration"]["scoring_script"]
        tree = ast.parse(script.read_text())
        self.calls.append(("deploy", definition["model"],
                           sorted(f.name for f in tree.body if isinstance(f, ast.FunctionDef))))
        self.served = definition["model"]

    def make_default(self, endpoint, deployment):
        self.calls.append(("default", endpoint, deployment))


@pytest.fixture
def ml(azurite):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    name = f"ml-{uuid.uuid4().hex[:8]}"
    service.create_container(name)
    return service, name


def _promote(service, ml, version: str, model: bytes) -> None:
    c = service.get_container_client(ml)
    c.upload_blob(f"models/{version}/model.keras", model, overwrite=True)
    c.upload_blob("models/champion.json", json.dumps(
        {"version": version, "accuracy": 0.97, "modelPath": f"{ml}/models/{version}/model.keras",
         "promotedAt": "2026-11-26T00:00:00+00:00"}), overwrite=True)


def test_publish_registers_once_and_moves_the_deployment_with_the_champion(ml):
    service, container = ml
    ws = RecordingWorkspace()
    assert publish_champion(ws, service, container).deployment == "none"  # no champion yet
    assert ws.calls == []

    _promote(service, container, "m-aaaaaaaaaaaa", b"model one")
    first = publish_champion(ws, service, container)
    assert (first.model, first.registered, first.deployment) == (
        f"azureml:{MODEL_NAME}:m-aaaaaaaaaaaa", True, "updated")
    assert ws.models[(MODEL_NAME, "m-aaaaaaaaaaaa")]["files"] == {"model.keras": b"model one"}
    assert ws.calls[0] == ("register", "m-aaaaaaaaaaaa")
    assert [c[1] for c in ws.calls if c[0] == "ensure"] == [
        "datastore", "compute", "environment", "endpoint"]
    assert ("deploy", first.model, ["init", "model_file", "run"]) in ws.calls
    assert ws.calls[-1] == ("default", "adf-ml-glue-score", "champion")

    ws.calls.clear()
    again = publish_champion(ws, service, container)
    assert (again.deployment, again.registered, ws.calls) == ("unchanged", False, [])

    _promote(service, container, "m-bbbbbbbbbbbb", b"model two")
    assert publish_champion(ws, service, container, dry_run=True).deployment == "updated"
    assert ws.calls == []  # a dry run writes nothing
    moved = publish_champion(ws, service, container)
    assert moved.registered and ws.served == f"azureml:{MODEL_NAME}:m-bbbbbbbbbbbb"

    ws.served = None  # a deployment lost: an existing model version is not registered again
    ws.calls.clear()
    _promote(service, container, "m-aaaaaaaaaaaa", b"model one")
    back = publish_champion(ws, service, container)
    assert (back.registered, back.deployment) == (False, "updated")
    assert not [c for c in ws.calls if c[0] == "register"]


def test_the_definitions_fit_the_pipeline_and_name_each_other(tmp_path):
    defs = load_definitions()
    assert problems(defs) == []
    code = stage_code(tmp_path / "code")
    doc = deployment_for(defs, "m-123456789abc", code)
    assert problems({**defs, "deployment": doc}, code) == []
    assert doc["model"] == f"azureml:{MODEL_NAME}:m-123456789abc"
    assert doc["mini_batch_size"] >= 1
    assert doc["error_threshold"] == 0  # no row left unscored
    assert defs["deployment"]["model"] != doc["model"]  # the file is left as it was
    broken = json.loads(json.dumps(defs))
    broken["deployment"]["output_action"] = "summary_only"
    broken["deployment"]["endpoint_name"] = "other"
    assert len(problems(broken)) == 2
    with pytest.raises(ValueError, match="not a valid Azure ML model version"):
        deployment_for(defs, "m/../x", code)


def test_the_environment_installs_what_the_training_package_needs():
    conda = yaml.safe_load((AML_ROOT / "environment.conda.yml").read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    needed = [line.strip() for line in (ROOT / "training" / "requirements.txt").read_text()
              .splitlines() if line.strip() and not line.startswith("#")]
    assert set(needed) <= set(pip)
    assert {"azureml-core", "azureml-dataset-runtime[fuse]"} <= set(pip)


def test_the_function_app_never_imports_azure_ai_ml():
    for path in [ROOT / "function_app.py", *ROOT.glob("functions/**/*.py"),
                 *ROOT.glob("shared/**/*.py")]:
        assert "azure.ai.ml" not in path.read_text(), path
    assert "azure-ai-ml" not in (ROOT / "requirements.txt").read_text()
