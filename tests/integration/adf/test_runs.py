"""The app's ADF client (real azure-mgmt-datafactory underneath) against the emulator over
HTTPS: deploy, runs of real commands, failures, reruns, cancel, idempotent start."""
from __future__ import annotations

import json
import os
import sys
import time

import pytest

from tests.integration.adf.conftest import custom, pipeline, wait_for, window

CODE_FOLDER = "@concat(pipeline().parameters.mlContainer, '/code/', pipeline().parameters.codeVersion)"
PARAMS = {"mlContainer": {"type": "string", "defaultValue": "ml"},
          "codeVersion": {"type": "string"}}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_deploy_puts_linked_services_then_pipelines_and_the_factory_serves_them(adf, deploy):
    deployed = deploy(p_one=pipeline([custom("A", "true")]))
    assert deployed == {"linkedServices": ["BatchLS", "StorageLS"], "datasets": [],
                        "pipelines": ["p_one"]}
    got = adf.mgmt.pipelines.get(adf.rg, adf.factory, "p_one")
    assert got.activities[0].command == "true"
    assert type(got.activities[0]).__name__ == "CustomActivity"
    names = [ls.name for ls in adf.mgmt.linked_services.list_by_factory(adf.rg, adf.factory)]
    assert sorted(names) == ["BatchLS", "StorageLS"]
    adf.ping()


def test_ping_raises_when_the_factory_is_unreachable(adf_env, settings_env):
    from devstack.ports import free_port
    from shared.adf.client import AdfUnavailable, get_adf_client
    from shared.settings import get_settings

    settings_env.setenv("ADF_ENDPOINT", f"https://127.0.0.1:{free_port()}")
    with pytest.raises(AdfUnavailable, match="unreachable"):
        get_adf_client(get_settings()).ping()


def test_custom_activity_runs_a_real_command_and_its_output_comes_back(adf, deploy, app_env):
    from shared.services import get_services
    from shared.storage import container

    svc = get_services()
    ml = svc.ml.container
    assert ml.container_name == app_env["ML_CONTAINER"]
    # a package in a sub-folder, as the training code is uploaded
    ml.upload_blob("code/v1/pkg/__init__.py", b"")
    ml.upload_blob("code/v1/pkg/hello.py", b"""
import json, os, sys
activity = json.load(open("activity.json"))
props = activity["typeProperties"]["extendedProperties"]
linked = json.load(open("linkedServices.json"))
print("hello from", sys.executable)
json.dump({"batch": props["batchId"], "runId": props["runId"],
           "hasStorage": bool(os.environ.get("STORAGE_CONNECTION_STRING")),
           "linked": [ls["name"] for ls in linked], "python": sys.executable},
          open("outputs.json", "w"))
""")
    act = custom("Hello", "python -m pkg.hello", folder=CODE_FOLDER, extended={
        "batchId": {"value": "@pipeline().parameters.batchId", "type": "Expression"},
        "runId": "@pipeline().RunId"})
    act["typeProperties"]["referenceObjects"] = {
        "linkedServices": [{"referenceName": "StorageLS", "type": "LinkedServiceReference"}]}
    deploy(p_hello=pipeline([act], PARAMS))
    started = adf.start_run("p_hello", "batch-1", {"mlContainer": app_env["ML_CONTAINER"],
                                                    "codeVersion": "v1"})
    status = wait_for(adf, started["runId"])
    assert status["status"] == "succeeded", status
    assert status["terminal"] is True and status["error"] is None
    out = status["outputs"]["Hello"]
    assert out["batch"] == "batch-1" and out["runId"] == started["runId"]
    assert out["hasStorage"] is True and out["linked"] == ["StorageLS"]
    assert os.path.dirname(out["python"]) == os.path.dirname(sys.executable)  # the venv's
    # stdout kept in storage under adfjobs/<activityRunId>/, as Batch does
    runs = adf.mgmt.activity_runs.query_by_pipeline_run(
        adf.rg, adf.factory, started["runId"], window())
    record = runs.value[0]
    assert record.output["exitcode"] == 0 and record.output["customOutput"] == out
    jobs = container("adfjobs", svc.settings)
    stdout = jobs.download_blob(f"{record.activity_run_id}/output/stdout.txt").readall()
    assert b"hello from" in stdout
    assert record.output["outputs"][0].endswith(f"{record.activity_run_id}/output/stdout.txt")



def test_failing_activity_fails_the_run_with_its_error_and_skips_downstream(adf, deploy):
    deploy(p_fail=pipeline([
        custom("Prepare", "echo ready"),
        custom("Break", "echo 'schema check failed: column p7 missing' >&2; exit 3",
               depends=["Prepare"]),
        custom("After", "echo never", depends=["Break"]),
    ]))
    run = adf.start_run("p_fail", "b-fail", {})
    status = wait_for(adf, run["runId"])
    assert status["status"] == "failed" and status["terminal"]
    assert status["stage"] == "Break"
    assert status["error"]["activity"] == "Break"
    assert "exited with code 3" in status["error"]["message"]
    assert "column p7 missing" in status["error"]["message"]
    by_name = {a["name"]: a for a in status["activities"]}
    assert [by_name[n]["status"] for n in ("Prepare", "Break", "After")] == \
        ["succeeded", "failed", "skipped"]


def test_rerun_from_failure_starts_at_the_failed_activity(adf, deploy, tmp_path):
    flag = tmp_path / "fixed"
    deploy(p_rerun=pipeline([
        custom("First", "echo '{\"first\": 1}' > outputs.json"),
        custom("Second", f"test -f {flag} || {{ echo 'not fixed yet' >&2; exit 1; }}; "
               "echo '{\"second\": 2}' > outputs.json", depends=["First"]),
        custom("Third", "echo '{\"third\": 3}' > outputs.json", depends=["Second"]),
    ]))
    first = adf.start_run("p_rerun", "b-rerun", {})
    failed = wait_for(adf, first["runId"])
    assert failed["status"] == "failed" and failed["stage"] == "Second"
    flag.write_text("yes")

    again = adf.rerun_from_failure("p_rerun", first["runId"])
    assert again["runId"] != first["runId"]
    status = wait_for(adf, again["runId"])
    assert status["status"] == "succeeded"
    assert [a["name"] for a in status["activities"]] == ["Second", "Third"]  # First not rerun
    assert status["runGroupId"] == first["runId"]
    # First's output is inherited from the failed run of the same group
    assert status["outputs"] == {"First": {"first": 1}, "Second": {"second": 2},
                                 "Third": {"third": 3}}
    # the original run is no longer the latest of its group
    assert adf.mgmt.pipeline_runs.get(adf.rg, adf.factory, first["runId"]).is_latest is False
    # and the idempotent start now finds the rerun for that batch
    assert adf.start_run("p_rerun", "b-rerun", {})["runId"] == again["runId"]


def test_a_rerun_runs_with_the_reference_runs_parameters_and_ignores_the_ones_sent(
        adf, deploy, tmp_path):
    """Pipelines - Create Run: "If run ID is specified the parameters of the specified run
    will be used to create a new run." Its own RunId is still its own."""
    flag = tmp_path / "fixed"
    deploy(p_params=pipeline([custom(
        "Use", f"test -f {flag} || exit 1; echo '{{\"target\": "
        "\"@{pipeline().parameters.target}\", \"run\": \"@{pipeline().RunId}\"}' > outputs.json")],
        {"target": {"type": "string"}}))
    first = adf.start_run("p_params", "b-params", {"target": "first"})
    assert wait_for(adf, first["runId"])["status"] == "failed"
    flag.write_text("yes")

    created = adf.mgmt.pipelines.create_run(
        adf.rg, adf.factory, "p_params", reference_pipeline_run_id=first["runId"],
        is_recovery=True, start_from_failure=True,
        parameters={"target": "second", "batchId": "b-other"})
    status = wait_for(adf, created.run_id)
    assert status["status"] == "succeeded", status
    assert status["outputs"]["Use"] == {"target": "first", "run": created.run_id}
    run = adf.mgmt.pipeline_runs.get(adf.rg, adf.factory, created.run_id)
    assert run.parameters == {"batchId": "b-params", "target": "first"}
    # a run without a reference still takes the parameters it is given
    other = adf.mgmt.pipelines.create_run(adf.rg, adf.factory, "p_params",
                                          parameters={"target": "second", "batchId": "b-2"})
    assert wait_for(adf, other.run_id)["outputs"]["Use"] == {"target": "second",
                                                              "run": other.run_id}


def test_rerun_of_a_run_that_did_not_fail_is_refused(adf, deploy):
    deploy(p_ok=pipeline([custom("A", "true")]))
    run = adf.start_run("p_ok", "b-ok", {})
    wait_for(adf, run["runId"])
    with pytest.raises(ValueError, match="succeeded"):
        adf.rerun_from_failure("p_ok", run["runId"])


def test_cancel_of_a_running_run_ends_cancelled_and_kills_its_process(adf, deploy, tmp_path):
    pidfile = tmp_path / "pid"
    deploy(p_slow=pipeline([
        custom("Slow", f"echo $$ > {pidfile}; sleep 120; echo done"),
        custom("Next", "true", depends=["Slow"]),
    ]))
    run = adf.start_run("p_slow", "b-slow", {})
    running = wait_for(adf, run["runId"], statuses=("running",), stage="Slow")
    assert running["terminal"] is False
    deadline = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    assert _alive(pid)

    result = adf.cancel(run["runId"])
    assert result["cancelled"] is True and result["alreadyFinished"] is False
    status = wait_for(adf, run["runId"], timeout=30)
    assert status["status"] == "cancelled" and status["terminal"]
    assert status["stage"] == "Slow"
    assert {a["name"]: a["status"] for a in status["activities"]} == {"Slow": "cancelled"}
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} still alive after cancel"
        time.sleep(0.05)


def test_cancel_of_a_finished_run_is_not_an_error(adf, deploy):
    deploy(p_quick=pipeline([custom("A", "true")]))
    run = adf.start_run("p_quick", "b-quick", {})
    assert wait_for(adf, run["runId"])["status"] == "succeeded"
    result = adf.cancel(run["runId"])
    assert result == {"runId": run["runId"], "status": "succeeded", "cancelled": False,
                      "alreadyFinished": True}
    assert adf.run_status(run["runId"])["status"] == "succeeded"
    # the emulator itself refuses, like a finished ARM run; the wrapper hides that
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as err:
        adf.mgmt.pipeline_runs.cancel(adf.rg, adf.factory, run["runId"])
    assert err.value.status_code == 400


def test_idempotent_start_returns_the_same_run_for_the_same_batch(adf, deploy):
    deploy(p_idem=pipeline([custom("A", "sleep 0.2")]))
    first = adf.start_run("p_idem", "batch-x", {"batchId": "batch-x"})
    second = adf.start_run("p_idem", "batch-x", {})
    assert first["created"] is True and second["created"] is False
    assert second["runId"] == first["runId"]
    other = adf.start_run("p_idem", "batch-y", {})
    assert other["created"] is True and other["runId"] != first["runId"]
    wait_for(adf, first["runId"])
    assert adf.start_run("p_idem", "batch-x", {})["runId"] == first["runId"]  # finished too
    with pytest.raises(ValueError, match="differs"):
        adf.start_run("p_idem", "batch-x", {"batchId": "batch-z"})


def test_a_cancelled_run_is_not_reused_by_the_next_start(adf, deploy):
    deploy(p_again=pipeline([custom("A", "sleep 30")]))
    first = adf.start_run("p_again", "b-again", {})
    adf.cancel(first["runId"])
    wait_for(adf, first["runId"], timeout=30)
    second = adf.start_run("p_again", "b-again", {})
    assert second["created"] is True and second["runId"] != first["runId"]
    adf.cancel(second["runId"])


def test_query_pipeline_runs_pages_return_every_run_exactly_once(adf, deploy):
    deploy(p_many=pipeline([{"name": "W", "type": "Wait",
                             "typeProperties": {"waitTimeInSeconds": 0}}]))
    created = {adf.mgmt.pipelines.create_run(adf.rg, adf.factory, "p_many",
                                             parameters={"batchId": f"b{i}"}).run_id
               for i in range(150)}
    first_page = adf.mgmt.pipeline_runs.query_by_factory(adf.rg, adf.factory, window())
    assert len(first_page.value) == 100 and first_page.continuation_token
    runs = adf.query_runs(1, pipeline="p_many")
    ids = [r["runId"] for r in runs]
    assert len(ids) == 150 and set(ids) == created
    assert {r["parameters"]["batchId"] for r in runs} == {f"b{i}" for i in range(150)}
    # filters: by status and by run start
    deadline = time.monotonic() + 60
    while len(adf.query_runs(1, pipeline="p_many", filters=[
            {"operand": "Status", "operator": "Equals", "values": ["Succeeded"]}])) < 150:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    one = runs[0]
    same_start = adf.query_runs(1, filters=[
        {"operand": "RunStart", "operator": "Equals", "values": [one["runStart"]]}])
    assert one["runId"] in [r["runId"] for r in same_start]


def test_pipeline_concurrency_queues_extra_runs(adf, deploy):
    deploy(p_one_at_a_time=pipeline(
        [{"name": "W", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}],
        concurrency=1))
    a = adf.start_run("p_one_at_a_time", "c1", {})
    b = adf.start_run("p_one_at_a_time", "c2", {})
    assert adf.run_status(b["runId"])["status"] == "queued"
    assert adf.run_status(a["runId"])["status"] in ("running", "succeeded")
    assert wait_for(adf, b["runId"])["status"] == "succeeded"
    sa, sb = adf.run_status(a["runId"]), adf.run_status(b["runId"])
    assert sa["runEnd"] <= sb["activities"][0]["start"]  # b's work began after a ended


def test_transient_errors_and_429_are_retried_honouring_retry_after(adf, deploy, emulator):
    import requests

    from shared.adf.client import AdfClient, AdfUnavailable

    deploy(p_retry=pipeline([custom("A", "true")]))
    run = adf.start_run("p_retry", "b-retry", {})
    waits: list[float] = []
    client = AdfClient(adf.mgmt, adf.rg, adf.factory, attempts=4, backoff_seconds=0.01,
                       max_delay_seconds=30, sleep=waits.append)

    def inject(**fault):
        requests.post(f"{emulator.endpoint}/_emulator/faults", json=fault,
                      verify=str(emulator.ca_file), timeout=10).raise_for_status()

    inject(method="GET", pathContains=f"pipelineruns/{run['runId']}", status=429,
           retryAfter=7, count=2)
    assert client.run_status(run["runId"])["runId"] == run["runId"]
    assert waits == [7.0, 7.0]  # Retry-After honoured, not the 0.01 s backoff

    waits.clear()
    inject(method="GET", pathContains=f"pipelineruns/{run['runId']}", status=503, count=4)
    with pytest.raises(AdfUnavailable, match="after 4 tries"):
        client.run_status(run["runId"])
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]  # bounded, backing off


def test_requests_without_a_bearer_token_get_401_and_unknown_paths_arm_errors(emulator, adf):
    import requests

    base = f"{emulator.endpoint}/subscriptions/s/resourceGroups/rg/providers/" \
           f"Microsoft.DataFactory/factories/{adf.factory}"
    verify = str(emulator.ca_file)
    anon = requests.get(f"{base}/pipelines?api-version=2018-06-01", verify=verify, timeout=10)
    assert anon.status_code == 401
    assert anon.json()["error"]["code"] == "AuthenticationFailed"
    auth = {"Authorization": "Bearer anything"}
    unknown = requests.get(f"{base}/triggers/t1?api-version=2018-06-01", headers=auth,
                           verify=verify, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NotFound"
    missing = requests.get(f"{base}/pipelines/nope?api-version=2018-06-01", headers=auth,
                           verify=verify, timeout=10)
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    bad = requests.post(f"{base}/pipelines/nope/createRun?api-version=2018-06-01",
                        headers=auth, data="{", verify=verify, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


def test_run_status_of_an_unknown_run_raises_not_found(adf):
    from shared.adf.client import AdfRunNotFound

    with pytest.raises(AdfRunNotFound, match="no pipeline run"):
        adf.run_status("00000000-0000-0000-0000-000000000000")


def test_status_is_json_serialisable(adf, deploy):
    deploy(p_json=pipeline([custom("A", "echo '{\"x\": [1, 2]}' > outputs.json")]))
    run = adf.start_run("p_json", "b-json", {})
    status = wait_for(adf, run["runId"])
    assert json.loads(json.dumps(status)) == status


def test_the_rerun_activity_run_twice_starts_one_recovery_run(adf, deploy):
    """Durable may run an activity again after ADF accepted it: no second recovery run."""
    from shared.runs.activities import rerun_adf_run
    from shared.services import get_services

    deploy(p_rerun_once=pipeline([custom("Only", "exit 1")]))
    first = adf.start_run("p_rerun_once", "b-rerun-once", {})
    wait_for(adf, first["runId"])
    payload = {"batchId": "b-rerun-once", "pipeline": "p_rerun_once", "runId": first["runId"]}
    svc = get_services()
    assert svc.adf is adf
    again = rerun_adf_run(svc, payload)
    assert rerun_adf_run(svc, payload) == again
    group = [r for r in adf.query_runs(1, pipeline="p_rerun_once")
             if r.get("runGroupId") == first["runId"]]
    assert sorted(r["runId"] for r in group) == sorted([first["runId"], again["runId"]])


def _counts(emulator) -> dict:
    import requests

    r = requests.get(f"{emulator.endpoint}/_emulator/counts", verify=str(emulator.ca_file),
                     timeout=10)
    return {op.rsplit("/", 2)[-2]: n for op, n in r.json()["value"].items()}


def test_a_first_start_creates_without_looking_and_a_retried_one_finds_its_run(
        adf, deploy, emulator):
    """The start activity's write-ahead: a first try reads no run list (a look reads every
    run of the pipeline in its window); the activity run again after ADF accepted the
    create finds that run instead of starting a second one."""
    import requests

    from shared.runs.activities import start_adf_run
    from shared.runs.records import RunRecords
    from shared.services import get_services

    deploy(p_once=pipeline([custom("A", "true")]))
    svc = get_services()
    records = RunRecords(svc.state)
    records.update("b-once", {"status": "running", "adfStartTriedAt": None})  # as begin_run
    payload = {"batchId": "b-once", "pipeline": "p_once", "parameters": {}}
    requests.delete(f"{emulator.endpoint}/_emulator/counts", verify=str(emulator.ca_file),
                    timeout=10)
    first = start_adf_run(svc, payload)
    assert first["created"] is True and "querypipelineruns" not in _counts(emulator)
    again = start_adf_run(svc, payload)  # Durable ran the activity again
    assert again["runId"] == first["runId"] and again["created"] is False
    assert _counts(emulator)["querypipelineruns"] >= 1
    assert records.get("b-once")["adfRunIds"] == [first["runId"]]


def test_a_create_whose_answer_was_lost_is_found_by_the_next_attempt(adf, deploy, emulator):
    import requests

    deploy(p_lost=pipeline([custom("A", "true")]))
    requests.post(f"{emulator.endpoint}/_emulator/faults", json={
        "method": "POST", "pathContains": "pipelines/p_lost/createRun", "status": 500,
        "afterHandling": True}, verify=str(emulator.ca_file), timeout=10).raise_for_status()
    started = adf.start_run("p_lost", "b-lost", {}, first_try=True, lookback_hours=1)
    runs = [r for r in adf.query_runs(1, pipeline="p_lost")
            if r["parameters"].get("batchId") == "b-lost"]
    assert [r["runId"] for r in runs] == [started["runId"]] and started["created"] is False


def test_a_record_from_before_the_write_ahead_still_looks_before_starting(adf, deploy):
    from shared.runs.activities import start_adf_run
    from shared.runs.records import RunRecords
    from shared.services import get_services

    deploy(p_old=pipeline([custom("A", "true")]))
    earlier = adf.start_run("p_old", "b-old", {})  # the old code's start, before a crash
    svc = get_services()
    RunRecords(svc.state).update("b-old", {"status": "running"})  # no adfStartTriedAt
    again = start_adf_run(svc, {"batchId": "b-old", "pipeline": "p_old", "parameters": {}})
    assert again["runId"] == earlier["runId"] and again["created"] is False
