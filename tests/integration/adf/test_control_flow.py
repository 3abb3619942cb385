"""Pipeline semantics on the emulator: dependency conditions and the leaf rule, control-flow
activities, WebActivity, policy retry/timeout, and clear failures for what is unsupported."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.integration.adf.conftest import custom, pipeline, wait_for, window


def _dep(name: str, *conditions: str) -> dict:
    return {"activity": name, "dependencyConditions": list(conditions)}


def test_failure_path_handles_the_error_so_the_run_succeeds(adf, deploy):
    # try/catch: only the Failed branch is a leaf that runs, so the run succeeds (leaf rule)
    deploy(p_catch=pipeline([
        custom("Try", "echo boom >&2; exit 1"),
        custom("Catch", "echo handled", depends=[_dep("Try", "Failed")]),
    ]))
    status = wait_for(adf, adf.start_run("p_catch", "b1", {})["runId"])
    assert status["status"] == "succeeded"
    assert {a["name"]: a["status"] for a in status["activities"]} == \
        {"Try": "failed", "Catch": "succeeded"}


def test_conditions_succeeded_failed_skipped_completed(adf, deploy):
    deploy(p_conditions=pipeline([
        custom("Fails", "exit 2"),
        custom("OnSuccess", "true", depends=[_dep("Fails", "Succeeded")]),
        custom("OnSkip", "true", depends=[_dep("OnSuccess", "Skipped")]),
        custom("Always", "true", depends=[_dep("Fails", "Completed")]),
        custom("OnFailure", "true", depends=[_dep("Fails", "Failed")]),
    ]))
    status = wait_for(adf, adf.start_run("p_conditions", "b1", {})["runId"])
    assert {a["name"]: a["status"] for a in status["activities"]} == {
        "Fails": "failed", "OnSuccess": "skipped", "OnSkip": "succeeded",
        "Always": "succeeded", "OnFailure": "succeeded"}
    # leaves OnSkip, Always, OnFailure all succeeded: the run succeeds
    assert status["status"] == "succeeded"


def test_set_variable_if_condition_and_until(adf, deploy):
    deploy(p_flow=pipeline(
        [
            {"name": "SetName", "type": "SetVariable", "typeProperties": {
                "variableName": "name",
                "value": "@concat('x-', pipeline().parameters.batchId)"}},
            {"name": "Check", "type": "IfCondition",
             "dependsOn": [_dep("SetName", "Succeeded")],
             "typeProperties": {
                 "expression": {"value": "@and(equals(variables('name'), 'x-b7'), "
                                         "not(equals(pipeline().parameters.mode, 'score')))",
                                "type": "Expression"},
                 "ifTrueActivities": [custom(
                     "Echo", "python -c \"import json; a=json.load(open('activity.json'));"
                             "json.dump(a['typeProperties']['extendedProperties'], "
                             "open('outputs.json','w'))\"",
                     extended={"greeting": "hello @{variables('name')} in @{pipeline().Pipeline}"})],
                 "ifFalseActivities": [custom("Never", "exit 1")]}},
            {"name": "Loop", "type": "Until", "dependsOn": [_dep("Check", "Succeeded")],
             "typeProperties": {
                 "expression": {"value": "@equals(variables('done'), 'yes')",
                                "type": "Expression"},
                 "timeout": "0.00:01:00",
                 "activities": [
                     {"name": "Pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}},
                     {"name": "MarkDone", "type": "SetVariable",
                      "dependsOn": [_dep("Pause", "Succeeded")],
                      "typeProperties": {"variableName": "done", "value": "yes"}}]}},
        ],
        {"mode": {"type": "string", "defaultValue": "train"}},
        variables={"name": {"type": "String"}, "done": {"type": "String", "defaultValue": "no"}},
    ))
    status = wait_for(adf, adf.start_run("p_flow", "b7", {})["runId"])
    assert status["status"] == "succeeded", status
    names = {a["name"]: a["status"] for a in status["activities"]}
    assert names["Echo"] == "succeeded" and "Never" not in names
    assert names["Loop"] == "succeeded" and names["MarkDone"] == "succeeded"
    assert status["outputs"]["Echo"] == {"greeting": "hello x-b7 in p_flow"}


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        data = json.dumps({"accepted": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_web_activity_calls_a_loopback_url_and_its_response_is_the_output(adf, deploy):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        deploy(p_web=pipeline([
            {"name": "Notify", "type": "WebActivity", "typeProperties": {
                "url": url, "method": "POST",
                "body": {"runId": "@pipeline().RunId", "batch": "@pipeline().parameters.batchId"}}},
            {"name": "UseIt", "type": "IfCondition", "dependsOn": [_dep("Notify", "Succeeded")],
             "typeProperties": {"expression": {"value": "@activity('Notify').output.accepted",
                                               "type": "Expression"},
                                "ifTrueActivities": [{"name": "Ok", "type": "Wait",
                                                      "typeProperties": {"waitTimeInSeconds": 0}}]}},
            {"name": "Outside", "type": "WebActivity", "typeProperties": {
                "url": "https://example.com/x", "method": "GET"}},
        ]))
        run = adf.start_run("p_web", "b-web", {})
        status = wait_for(adf, run["runId"])
    finally:
        server.shutdown()
    assert _Hook.received[-1] == {"runId": run["runId"], "batch": "b-web"}
    acts = {a["name"]: a for a in status["activities"]}
    assert acts["Ok"]["status"] == "succeeded"
    assert acts["Outside"]["status"] == "failed"
    assert "not a loopback address" in acts["Outside"]["error"]
    assert status["status"] == "failed" and status["error"]["activity"] == "Outside"


def test_policy_retry_runs_the_activity_again_and_each_try_is_recorded(adf, deploy, tmp_path):
    marker = tmp_path / "tried"
    deploy(p_retry_policy=pipeline([custom(
        "Flaky", f"if [ -f {marker} ]; then echo ok; else touch {marker}; exit 1; fi",
        policy={"retry": 2, "retryIntervalInSeconds": 0, "timeout": "0.00:05:00"})]))
    status = wait_for(adf, adf.start_run("p_retry_policy", "b1", {})["runId"])
    assert status["status"] == "succeeded"
    assert status["activities"][0]["attempts"] == 2
    runs = adf.mgmt.activity_runs.query_by_pipeline_run(
        adf.rg, adf.factory, status["runId"], window())
    assert sorted(r.status for r in runs.value) == ["Failed", "Succeeded"]


def test_policy_timeout_fails_the_activity_and_kills_the_command(adf, deploy):
    deploy(p_timeout=pipeline([custom("TooSlow", "sleep 30",
                                      policy={"timeout": "0.00:00:01", "retry": 0})]))
    status = wait_for(adf, adf.start_run("p_timeout", "b1", {})["runId"], timeout=30)
    assert status["status"] == "failed"
    assert "timed out" in status["error"]["message"] and "0.00:00:01" in status["error"]["message"]
    assert status["activities"][0]["durationSeconds"] < 20


@pytest.mark.parametrize("expression,named", [
    ("@formatDateTime(utcnow(), 'yyyy')", "formatDateTime"),
    ("@pipeline().parameters.nope", "nope"),
    ("@activity('Ghost').output.x", "Ghost"),
])
def test_an_unsupported_or_bad_expression_fails_the_run_naming_it(adf, deploy, expression, named):
    deploy(p_expr=pipeline([custom("Uses", "true", extended={"x": expression})]))
    status = wait_for(adf, adf.start_run("p_expr", f"b-{named}", {})["runId"])
    assert status["status"] == "failed"
    assert status["error"]["activity"] == "Uses"
    assert named in status["error"]["message"] and expression in status["error"]["message"]


def test_an_unsupported_activity_type_fails_the_run_naming_it(adf, deploy):
    deploy(p_type=pipeline([{"name": "Loop", "type": "ForEach", "typeProperties": {
        "items": {"value": "@pipeline().parameters.batchId", "type": "Expression"},
        "activities": []}}]))
    status = wait_for(adf, adf.start_run("p_type", "b1", {})["runId"])
    assert status["status"] == "failed"
    assert "'ForEach'" in status["error"]["message"] and "not supported" in status["error"]["message"]


def test_missing_required_parameter_is_refused_at_create(adf, deploy):
    from azure.core.exceptions import HttpResponseError

    deploy(p_params=pipeline([custom("A", "true")], {"codeVersion": {"type": "string"}}))
    with pytest.raises(HttpResponseError) as err:
        adf.start_run("p_params", "b1", {})
    assert err.value.status_code == 400 and "codeVersion" in str(err.value)


class _Jobs(BaseHTTPRequestHandler):
    """A job API: Running twice, then the status it was told; records Authorization."""
    auth: list = []
    final = "Completed"

    def do_GET(self):  # noqa: N802
        _Jobs.auth.append(self.headers.get("Authorization"))
        status = "Running" if len(_Jobs.auth) < 3 else _Jobs.final
        props = {"status": status}
        if status == "Failed":
            props["error"] = {"message": "the job broke"}
        data = json.dumps({"name": "job-1", "properties": props}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def _poll_until_done(url: str) -> list[dict]:
    check = {"name": "Check", "type": "WebActivity", "typeProperties": {
        "url": url, "method": "GET",
        "authentication": {"type": "MSI", "resource": "https://ml.azure.com"}}}
    return [
        {"name": "Poll", "type": "Until", "typeProperties": {
            "expression": {"value": "@not(equals(variables('s'), 'Running'))",
                           "type": "Expression"},
            "timeout": "0.00:01:00",
            "activities": [
                check,  # no retry policy: each iteration is a first try
                {"name": "Keep", "type": "SetVariable", "dependsOn": [_dep("Check", "Succeeded")],
                 "typeProperties": {"variableName": "s",
                                    "value": "@activity('Check').output.properties.status"}}]}},
        {"name": "Outcome", "type": "IfCondition", "dependsOn": [_dep("Poll", "Succeeded")],
         "typeProperties": {
             "expression": {"value": "@equals(variables('s'), 'Failed')", "type": "Expression"},
             "ifTrueActivities": [{"name": "Stop", "type": "Fail", "typeProperties": {
                 "message": {"value": "@concat('job: ', coalesce(variables('e'), "
                                      "'no error'))", "type": "Expression"},
                 "errorCode": "JobFailed"}}]}},
    ]


@pytest.mark.parametrize("final", ["Completed", "Failed"])
def test_until_polls_a_web_api_with_a_managed_identity_token_and_fail_ends_the_run(
        adf, deploy, final):
    import base64

    _Jobs.auth, _Jobs.final = [], final
    server = HTTPServer(("127.0.0.1", 0), _Jobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        activities = _poll_until_done(f"http://127.0.0.1:{server.server_port}/jobs/job-1")
        # `?.` gives null for a property that is not there (no error on a completed job)
        activities[0]["typeProperties"]["activities"].append(
            {"name": "Why", "type": "SetVariable", "dependsOn": [_dep("Keep", "Succeeded")],
             "typeProperties": {"variableName": "e", "value":
                                "@activity('Check').output.properties?.error?.message"}})
        deploy(p_poll=pipeline(activities, variables={
            "s": {"type": "String", "defaultValue": "Running"}, "e": {"type": "String"}}))
        status = wait_for(adf, adf.start_run("p_poll", "b-poll", {})["runId"])
    finally:
        server.shutdown()
    assert len(_Jobs.auth) == 3  # three iterations, each a first try of Check
    scheme, token = _Jobs.auth[0].split(" ")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert scheme == "Bearer" and claims["aud"] == "https://ml.azure.com"
    acts = {a["name"]: a for a in status["activities"]}
    assert acts["Check"]["attempts"] == 3 and acts["Check"]["status"] == "succeeded"
    if final == "Completed":
        assert status["status"] == "succeeded", status
        assert "Stop" not in acts
    else:
        assert status["status"] == "failed" and acts["Stop"]["status"] == "failed"
        assert status["error"]["activity"] == "Outcome"
        assert "job: the job broke" in status["error"]["message"]
