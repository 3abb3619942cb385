"""adf/pipeline/score_batch_endpoint.json as the seed describes it: Preprocess on Batch,
a Web activity invoking the batch endpoint (managed identity, https://ml.azure.com) with
the input folder and an output file of the ADF run's own (its RunId under the output folder), an Until polling the job with a Web activity and
waiting poll_interval seconds until Completed or Failed, and a Fail with the job's error;
the activity names are the ones the app reads (`shared.runs.endpoint`)."""
from __future__ import annotations

import json
from pathlib import Path

from azure.mgmt.datafactory.models import (
    CustomActivity,
    FailActivity,
    IfConditionActivity,
    PipelineResource,
    SetVariableActivity,
    UntilActivity,
    WaitActivity,
    WebActivity,
)

from shared.runs import endpoint
from shared.settings import load_settings

PATH = Path(__file__).resolve().parents[2] / "adf" / "pipeline" / "score_batch_endpoint.json"
DOC = json.loads(PATH.read_text())
MSI = {"type": "MSI", "resource": "https://ml.azure.com"}


def _pipeline() -> PipelineResource:
    return PipelineResource.deserialize(DOC)


def _expr(value) -> str:
    """The text of an expression (a dict, an SDK `Expression` or a plain string)."""
    if isinstance(value, dict):
        return value["value"]
    return getattr(value, "value", value)


def test_parameters_and_the_settings_default_name():
    p = _pipeline()
    assert DOC["name"] == load_settings(
        {"STORAGE_CONNECTION_STRING": "x"}).adf_endpoint_score_pipeline
    params = p.parameters
    for name in ("endpoint_uri", "endpoint_input_uri", "endpoint_output_folder"):
        assert params[name].type.lower() == "string" and params[name].default_value is None
    assert params["poll_interval"].type.lower() == "int"
    assert params["poll_interval"].default_value == 120
    assert params["api_version"].default_value == "2020-09-01-dataplanepreview"
    # what the app gives every pipeline (tests/unit/test_adf_definitions.py) is here too
    assert {"batchId", "manifestPath", "codeVersion", "mode", "mlContainer"} <= set(params)
    assert p.variables["job_status"].default_value == "NotStarted"


def test_activities_chain_preprocess_invoke_and_wait():
    acts = _pipeline().activities
    assert [type(a) for a in acts] == [CustomActivity, WebActivity, UntilActivity]
    assert [a.name for a in acts] == ["Preprocess", endpoint.INVOKE, endpoint.WAIT]
    for prev, act in zip(acts, acts[1:], strict=False):
        assert [(d.activity, d.dependency_conditions) for d in act.depends_on] == \
            [(prev.name, ["Succeeded"])]
    assert not any(a.additional_properties for a in acts)


def test_invoke_posts_input_and_output_uris_as_the_factory_identity():
    invoke = _pipeline().activities[1]
    assert invoke.method.upper() == "POST"
    assert invoke.authentication.type == "MSI"
    assert invoke.authentication.resource == "https://ml.azure.com"
    assert _expr(invoke.url) == ("@concat(pipeline().parameters.endpoint_uri, "
                                 "'?api-version=', pipeline().parameters.api_version)")
    body = _expr(invoke.body)
    for needle in ('"JobInputType\\":\\"UriFolder', '"JobOutputType\\":\\"UriFile',
                   "pipeline().parameters.endpoint_input_uri",
                   "pipeline().parameters.endpoint_output_folder, pipeline().RunId"):
        assert needle.replace("\\", "") in body.replace("\\", "")
    assert invoke.policy.retry == 0  # a repeated invoke would start a second job


def test_each_adf_run_writes_the_output_file_the_glue_reads():
    """The body as Data Factory evaluates it: the output is the glue's `output_path` of the
    batch and of this ADF run, so a rerun (same parameters, new RunId) gets a new file."""
    from devstack.adf.expressions import Scope, evaluate_string

    s = load_settings({"STORAGE_CONNECTION_STRING": "x",
                       "AML_ENDPOINT_URI": "https://glue.westeurope.inference.ml.azure.com/jobs",
                       "AML_DATASTORE_URI": "azureml://datastores/mldata/paths/"})
    params = endpoint.pipeline_parameters("unlabelled-x", s)
    body = DOC["properties"]["activities"][1]["typeProperties"]["body"]["value"]
    uris = []
    for run_id in ("run-1", "run-2"):
        doc = evaluate_string(body, Scope(pipeline={"RunId": run_id}, parameters=params))
        (out,) = doc["properties"]["OutputData"].values()
        (inp,) = doc["properties"]["InputData"].values()
        assert out == {"JobOutputType": "UriFile", "Uri": "azureml://datastores/mldata/paths/"
                       + endpoint.output_path("unlabelled-x", run_id)}
        assert inp["Uri"] == "azureml://datastores/mldata/paths/curated/unlabelled-x/"
        uris.append(out["Uri"])
    assert uris[0] != uris[1]


def test_until_checks_the_job_waits_between_checks_and_fails_with_its_error():
    until = _pipeline().activities[2]
    condition = _expr(until.expression)
    for status in ("Completed", "Failed"):
        assert f"equals(variables('job_status'), '{status}')" in condition
    check, keep, outcome = until.activities
    assert isinstance(check, WebActivity) and check.name == endpoint.CHECK
    assert check.method.upper() == "GET"
    assert (check.authentication.type, check.authentication.resource) == \
        (MSI["type"], MSI["resource"])
    assert "activity('InvokeEndpoint').output.name" in _expr(check.url)
    assert isinstance(keep, SetVariableActivity) and keep.variable_name == "job_status"
    assert _expr(keep.value) == "@activity('CheckJob').output.properties.status"
    assert isinstance(outcome, IfConditionActivity)
    (fail,) = outcome.if_true_activities
    assert isinstance(fail, FailActivity)
    assert "output.properties?.error?.message" in _expr(fail.message)
    assert fail.error_code == "BatchEndpointJobFailed"
    (wait,) = outcome.if_false_activities
    assert isinstance(wait, WaitActivity)
    assert "pipeline().parameters.poll_interval" in _expr(wait.wait_time_in_seconds)


def test_the_pipeline_runs_on_the_emulator_as_written():
    """Every activity type and expression function it uses is one the emulator runs."""
    from devstack.adf.engine import SUPPORTED_TYPES
    from devstack.adf.expressions import FUNCTIONS

    types, calls = set(), set()

    def walk(node):
        if isinstance(node, dict):
            if "type" in node and "name" in node and "typeProperties" in node:
                types.add(node["type"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str) and node.startswith("@"):
            import re
            calls.update(re.findall(r"([A-Za-z_]\w*)\s*\(", node))

    walk(DOC["properties"]["activities"])
    assert types <= set(SUPPORTED_TYPES)
    assert calls <= set(FUNCTIONS) | {"pipeline", "activity", "variables"}
