"""Every JSON file under adf/ is what ADF's git integration writes and what the
azure-mgmt-datafactory models accept; Custom activities run programs the code package has."""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest
from azure.mgmt.datafactory.models import (
    AzureBatchLinkedService,
    AzureBlobStorageLinkedService,
    CustomActivity,
    LinkedServiceResource,
    PipelineResource,
)

from training.package import PROGRAMS, build_package, command_for

ADF = Path(__file__).resolve().parents[2] / "adf"
PIPELINES = sorted((ADF / "pipeline").glob("*.json"))
# The pipelines whose stages all run on Batch; score_batch_endpoint (a Batch Preprocess, then
# an Azure ML batch endpoint) has its own test: tests/unit/test_endpoint_pipeline.py.
ENDPOINT_PIPELINE = "score_batch_endpoint"
ENDPOINT_PARAMETERS = {"endpoint_uri", "api_version", "poll_interval", "endpoint_input_uri",
                       "endpoint_output_folder"}
CUSTOM_PIPELINES = [p for p in PIPELINES if p.stem != ENDPOINT_PIPELINE]
LINKED = sorted((ADF / "linkedService").glob("*.json"))
PARAMETERS = {"batchId", "manifestPath", "codeVersion", "mode", "mlContainer", "trainOptions",
              "storageAccountUrl"}
EXTENDED = {"batchId", "manifestPath", "codeVersion", "mlContainer", "trainOptions", "runId",
            "storageAccountUrl", "mode"}
FOLDER_PATH = "@concat(pipeline().parameters.mlContainer, '/code/', pipeline().parameters.codeVersion)"
# The expression functions the local emulator supports.
ALLOWED_FUNCTIONS = {"pipeline", "activity", "variables", "concat", "equals", "and", "or", "not",
                     "json", "if", "coalesce"}
STAGES = {"train_and_score": ["Preprocess", "Train", "Score"], "score_only": ["Preprocess", "Score"]}
STAGES |= {f"diabetes_{name}": stages for name, stages in STAGES.items()}  # the example regression feed


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _pipeline(name: str) -> PipelineResource:
    return PipelineResource.deserialize(_load(ADF / "pipeline" / f"{name}.json"))


def _expressions(node):
    if isinstance(node, str):
        if node.startswith("@") and not node.startswith("@@"):
            yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from _expressions(v)


def test_the_files_exist():
    assert {p.stem for p in PIPELINES} == {*STAGES, ENDPOINT_PIPELINE}
    assert {p.stem for p in LINKED} >= {"ls_blob_ml", "ls_batch"}


@pytest.mark.parametrize("path", LINKED, ids=lambda p: p.name)
def test_linked_services_deserialize(path):
    doc = _load(path)
    assert doc["name"] == path.stem and doc["type"] == "Microsoft.DataFactory/factories/linkedservices"
    res = LinkedServiceResource.deserialize(doc)
    assert res.name == path.stem
    assert type(res.properties).__name__ != "LinkedService"  # a concrete subtype, not the base
    assert not res.properties.additional_properties, "unknown keys: a typo in the JSON?"


def test_linked_services_fit_together():
    blob = LinkedServiceResource.deserialize(_load(ADF / "linkedService" / "ls_blob_ml.json")).properties
    assert isinstance(blob, AzureBlobStorageLinkedService)
    assert blob.service_endpoint.startswith("https://") and not blob.connection_string  # identity, no key
    batch = LinkedServiceResource.deserialize(_load(ADF / "linkedService" / "ls_batch.json")).properties
    assert isinstance(batch, AzureBatchLinkedService)
    assert batch.linked_service_name.reference_name == "ls_blob_ml"
    assert batch.pool_name and batch.batch_uri.startswith("https://")
    store = getattr(batch.access_key, "store", None)  # the key comes from Key Vault
    assert store is not None and (ADF / "linkedService" / f"{store.reference_name}.json").exists()


@pytest.mark.parametrize("path", CUSTOM_PIPELINES, ids=lambda p: p.name)
def test_pipelines_deserialize_into_custom_activities(path):
    doc = _load(path)
    assert doc["name"] == path.stem
    res = PipelineResource.deserialize(doc)
    assert set(res.parameters) == PARAMETERS
    assert res.parameters["mlContainer"].default_value == "ml-data"
    assert res.parameters["trainOptions"].default_value == "{}"
    for name in ("batchId", "manifestPath", "codeVersion"):
        assert res.parameters[name].type.lower() == "string"  # ADF writes "string"
    acts = res.activities
    assert [a.name for a in acts] == STAGES[path.stem]
    assert all(isinstance(a, CustomActivity) for a in acts)
    assert not any(a.additional_properties for a in acts), "unknown activity keys"
    # a chain: each stage depends on the previous one succeeding
    assert acts[0].depends_on == []
    for prev, act in zip(acts, acts[1:], strict=False):
        assert [(d.activity, d.dependency_conditions) for d in act.depends_on] == [(prev.name, ["Succeeded"])]
    linked = {p.stem for p in LINKED}
    for act in acts:
        assert act.linked_service_name.reference_name in linked
        assert act.resource_linked_service.reference_name == "ls_blob_ml"
        assert act.folder_path == {"value": FOLDER_PATH, "type": "Expression"}
        assert set(act.extended_properties) == EXTENDED
        assert 1 <= act.retention_time_in_days <= 30
        policy = act.policy
        assert re.fullmatch(r"\d+\.\d\d:\d\d:\d\d", policy.timeout)
        assert 0 <= policy.retry <= 3 and policy.retry_interval_in_seconds >= 30


@pytest.mark.parametrize("name", sorted(STAGES))
def test_commands_name_programs_in_the_package(name):
    package = {n for n, _ in build_package().files}
    for act in _pipeline(name).activities:
        m = re.fullmatch(r"python -m zipfile -e training\.zip \. && python -m training\.([\w.]+)",
                         act.command)
        assert m, f"{act.name}: unexpected command {act.command!r}"
        program = m.group(1)
        assert act.command == command_for(program)
        assert program in PROGRAMS and program.rsplit(".", 1)[-1] == act.name.lower()
        assert program.startswith("diabetes.") == name.startswith("diabetes_")
        assert f"training/{program.replace('.', '/')}.py" in package
        assert callable(importlib.import_module(f"training.{program}").main)


@pytest.mark.parametrize("path", PIPELINES + LINKED, ids=lambda p: p.name)
def test_expressions_use_only_what_the_emulator_supports(path):
    for expr in _expressions(_load(path)):
        body = expr[1:] if not expr.startswith("@{") else expr
        called = set(re.findall(r"([A-Za-z_]\w*)\s*\(", body))
        assert called <= ALLOWED_FUNCTIONS, f"{path.name}: {expr!r} calls {called - ALLOWED_FUNCTIONS}"
        for param in re.findall(r"pipeline\(\)\.parameters\.(\w+)", body):
            assert param in PARAMETERS | ENDPOINT_PARAMETERS, \
                f"{path.name}: unknown parameter {param}"
