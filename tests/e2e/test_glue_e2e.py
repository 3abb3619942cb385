"""Issue 6 end to end: data lands -> event -> one ADF run -> tracked to the end, on the real
local stack (Azurite, Data Factory emulator running adf/ and training/, host stand-in)."""
from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime

import pytest
import requests

from shared.runs.records import RunRecords
from tests.e2e.conftest import module_stack
from tests.polling import wait_until

pytestmark = pytest.mark.slow


def _only_run(stack, blob: str) -> dict:
    (run,) = stack.api.wait_for_runs_of([blob], timeout=240)
    return run


def test_labelled_batch_event_leads_to_one_successful_train_and_score_run(stack):
    blob = stack.land("labelled", 900, seed=1, name="e2e-labelled")
    run = _only_run(stack, blob)
    assert run["mode"] == "train-and-score" and run["pipeline"] == "train_and_score"
    assert run["status"] == "succeeded", run.get("error")
    assert [s["name"] for s in run["stages"]] == ["Preprocess", "Train", "Score"]
    assert all(s["status"] == "succeeded" and s["durationSeconds"] is not None
               for s in run["stages"])
    assert len(run["adfRunIds"]) == 1
    assert [r["runId"] for r in stack.adf_runs_for(run["batchId"])] == run["adfRunIds"]
    outputs = run["outputs"]
    assert outputs["Preprocess"]["rowsOut"] == 900
    assert outputs["Train"]["accuracy"] >= 0.9 and outputs["Train"]["promoted"] is True
    assert outputs["Score"]["rows"] == 900
    assert [f["name"] for f in run["files"]] == [blob]
    assert run["instanceId"] == run["batchId"] and run["durationSeconds"] > 0
    assert "checks" in run
    model = outputs["Train"]["modelVersion"]
    assert any(n.startswith(f"models/{model}/") for n in stack.ml_blobs("models/"))
    assert f"predictions/{run['batchId']}/predictions.csv" in stack.ml_blobs("predictions/")
    # POLLS_PER_GENERATION=3: the orchestration continued as new, its history stayed short.
    status = requests.get(f"{stack.stack.host.base_url}/runtime/webhooks/durabletask/instances/"
                          f"{run['instanceId']}", params={"showHistory": "true"}, timeout=10).json()
    generation = json.loads(status["input"]) if isinstance(status["input"], str) else status["input"]
    assert "plan" in generation  # the input of a later generation carries the state
    assert len(status["historyEvents"]) < 60
    health = stack.api.request("GET", "health/details")
    assert health.status_code == 200 and health.json()["ok"] is True
    assert health.json()["checks"]["logAnalytics"]["enabled"] is False  # no workspace: off


def test_unlabelled_batch_leads_to_a_score_only_run(stack):
    blob = stack.land("unlabelled", 400, seed=2, name="e2e-unlabelled")
    run = _only_run(stack, blob)
    assert run["mode"] == "score" and run["pipeline"] == "score_only"
    assert run["status"] == "succeeded", run.get("error")
    assert [s["name"] for s in run["stages"]] == ["Preprocess", "Score"]
    assert run["outputs"]["Score"]["rows"] == 400


def test_unlabelled_batch_scored_on_the_batch_endpoint_a_failed_job_and_its_rerun(stack):
    """The rerun runs with the failed run's parameters (as in Data Factory), yet its job
    writes a file of its own, named by its ADF run id, and that file is the one read."""
    from shared.landing.layout import batch_id as batch_id_of
    from shared.runs import endpoint

    services = stack.services()
    if services.ml.read_json("models/champion.json")[0] is None:  # run alone: train first
        _only_run(stack, stack.land("labelled", 600, seed=11, name="e2e-endpoint-champion"))
    blob = stack.land("unlabelled", 300, seed=12, name="e2e-endpoint")
    etag = services.landing.get_blob_client(blob).get_blob_properties().etag.strip('"')
    expected = batch_id_of("unlabelled", [{"name": blob, "etag": etag}])
    # The first job fails: a broken shard beside the ones Preprocess will write.
    broken = f"curated/{expected}/part-99999.npz"
    services.ml.put(broken, b"PK\x03\x04 a broken shard")

    started = stack.api.start({"files": [blob], "scoreTarget": "aml-endpoint"})
    (first,) = started["runs"]
    assert first["batchId"] == expected and first["started"] is True
    run = stack.api.wait_for_run(expected, timeout=180)
    assert (run["pipeline"], run["scoreTarget"], run["status"]) == (
        "score_batch_endpoint", "aml-endpoint", "failed")
    assert run["error"]["activity"] == "WaitForJob"
    assert "not a zip file" in run["error"]["message"]  # the job's own error
    assert run["endpointJob"]["status"] == "Failed" and run["endpointJob"]["jobId"]
    (first_adf,) = run["adfRunIds"]
    taken = endpoint.output_path(expected, first_adf)
    assert run["endpointOutputPath"] == taken
    # As if the first job had gone on and written its output after the run gave up on it:
    # the endpoint refuses an output file that exists.
    services.ml.put(taken, b"the first job's predictions\n")
    services.ml.delete(broken)

    r = stack.api.request("POST", f"runs/{expected}/rerun")
    assert r.status_code == 202, r.text
    again = stack.api.wait_for_rerun(expected, 2)
    assert again["status"] == "succeeded", again.get("error")
    assert again["instanceId"] == f"{expected}-rerun1"
    assert again["adfRunIds"][0] == first_adf and len(again["adfRunIds"]) == 2
    new = stack.services().adf.run_status(again["adfRunIds"][-1])
    old = stack.services().adf.run_status(first_adf)
    assert new["parameters"] == old["parameters"]  # a rerun has the failed run's parameters
    output = endpoint.output_path(expected, again["adfRunIds"][-1])
    assert again["endpointOutputPath"] == output != taken  # a new output path, and it is there
    assert len(services.ml.read_text(output).splitlines()) == 300
    assert services.ml.read_text(taken) == "the first job's predictions\n"  # untouched
    job = again["endpointJob"]
    assert job["status"] == "Completed" and job["jobId"] != run["endpointJob"]["jobId"]
    names = [s["name"] for s in again["stages"]]
    assert {"InvokeEndpoint", "WaitForJob", "CheckJob"} <= set(names)
    assert all(s["durationSeconds"] is not None for s in again["stages"]
               if s["name"] in ("InvokeEndpoint", "WaitForJob"))
    score = again["outputs"]["Score"]  # built by the glue from the rerun job's output file
    assert score["rows"] == 300 and sum(score["classCounts"].values()) == 300
    assert score["predictionsPath"] == output
    assert "prediction_drift" in {f["kind"] for f in again["checks"]}
    ran_again = {a["name"] for a in new["activities"] if a["status"] != "skipped"
                 and a["start"] and a["start"] >= new["runStart"]}
    assert "InvokeEndpoint" in ran_again and "Preprocess" not in ran_again


def test_the_watcher_notices_finished_runs_within_seconds_and_health_says_when_it_looked(stack):
    """Issue 15: runs are followed by the run watcher (the default), not by their polls."""
    blob = stack.land("unlabelled", 300, seed=5, name="e2e-watched")
    run = _only_run(stack, blob)
    assert run["status"] == "succeeded", run.get("error")
    adf_run = stack.services().adf.run_status(run["adfRunIds"][-1])
    ended = datetime.fromisoformat(adf_run["runEnd"].replace("Z", "+00:00"))
    lag = (datetime.fromisoformat(run["finishedAt"]) - ended).total_seconds()
    interval = float(stack.settings["WATCH_INTERVAL_SECONDS"])
    history = requests.get(f"{stack.stack.host.base_url}/runtime/webhooks/durabletask/"
                           f"instances/{run['instanceId']}", params={"showHistory": "true"},
                           timeout=10).json().get("historyEvents", [])
    assert lag <= interval + 5, (f"noticed {lag:.1f}s after the ADF run ended ({adf_run['runEnd']})"
                                 f": {[(e.get('EventType'), e.get('Timestamp')) for e in history]}")
    watcher = stack.api.request("GET", "health/details").json()["checks"]["runWatcher"]
    assert watcher["ok"] is True and watcher["ageSeconds"] < 30, watcher
    # The watcher's timer looks once per interval, and what it carries names the run's
    # end and its owner (kept for the 60 s overlap after the end, then let go). A tick
    # writes what it carries after it hands the end over, and the run can finish in between:
    # give it a few looks.
    state = stack.services().state
    beat, _ = state.read_json("watcher/last-look.json")
    assert "error" not in beat and (datetime.fromisoformat(beat["nextLookAt"])
                                    - datetime.fromisoformat(beat["lookedAt"])
                                    ).total_seconds() == interval, beat
    run_id = run["adfRunIds"][-1]
    wait_until(lambda: state.read_json("watcher/state.json")[0]["tracked"][run_id]["terminal"],
               "the watcher's state names the run's end", timeout=5 * interval + 5)
    entry = state.read_json("watcher/state.json")[0]["tracked"][run_id]
    assert entry["terminal"] is True and entry["owner"] == run["instanceId"], entry


def test_burst_of_files_with_duplicate_events_gives_bounded_batches_one_adf_run_each(stack):
    blobs = [stack.land("unlabelled", 50, seed=100 + i, name=f"burst-{i:02}") for i in range(20)]
    runs = stack.api.wait_for_runs_of(blobs, timeout=300)
    files = [f["name"] for r in runs for f in r["files"]]
    assert sorted(files) == sorted(blobs)  # every file in exactly one batch
    max_files = int(stack.settings["MAX_BATCH_FILES"])
    assert all(len(r["files"]) <= max_files for r in runs)
    # Each sealer window claims what has landed and splits it by MAX_BATCH_FILES.
    per_sealer: dict[str, int] = {}
    for r in runs:
        per_sealer[r["reason"]] = per_sealer.get(r["reason"], 0) + len(r["files"])
    assert len(runs) == sum(math.ceil(n / max_files) for n in per_sealer.values())
    assert len(runs) < len(blobs)  # a burst is not one run per file
    for r in runs:
        assert r["status"] == "succeeded", r.get("error")
        assert len(stack.adf_runs_for(r["batchId"])) == 1


def test_post_runs_twice_with_the_same_files_returns_the_same_instance(stack):
    blob = stack.land("unlabelled", 120, seed=3, name="e2e-post-twice")
    first = stack.api.start({"files": [blob], "reason": "test"})
    second = stack.api.start({"files": [blob]})
    (a,), (b,) = first["runs"], second["runs"]
    assert a["instanceId"] == b["instanceId"]
    assert a["started"] is True and b["started"] is False
    assert a["runUri"] == b["runUri"] == f"/api/runs/{a['batchId']}"
    assert "statusQueryGetUri" not in a  # it carried the Durable system key
    run = stack.api.wait_for_run(a["batchId"], timeout=180)
    assert run["status"] == "succeeded" and len(stack.adf_runs_for(a["batchId"])) == 1
    followed = stack.api.request("GET", a["runUri"].removeprefix("/api/"))
    assert followed.status_code == 200
    assert (followed.json()["batchId"], followed.json()["status"]) == (a["batchId"], "succeeded")


def test_hole3_a_file_overwritten_with_new_content_is_processed_again_as_a_new_batch(stack):
    blob = stack.land("unlabelled", 120, seed=5, name="e2e-overwritten")
    first = _only_run(stack, blob)
    assert first["status"] == "succeeded", first.get("error")
    stack.land("unlabelled", 130, seed=6, name="e2e-overwritten")  # same name, new content
    deadline = time.monotonic() + 240
    while True:
        runs = [r for r in stack.api.runs(200) if blob in {f["name"] for f in r["files"]}]
        second = [r for r in runs if r["batchId"] != first["batchId"]]
        if second and second[0]["status"] not in ("running", None):
            break
        assert time.monotonic() < deadline, "the new content was never processed"
        time.sleep(0.5)
    (again,) = second
    assert again["status"] == "succeeded", again.get("error")
    assert again["outputs"]["Score"]["rows"] == 130  # the new content, not the old
    (entry,) = again["files"]
    assert entry["previousBatchId"] == first["batchId"]  # the record says what it replaces
    assert entry["etag"] != first["files"][0]["etag"]
    assert len(stack.adf_runs_for(again["batchId"])) == 1


def test_failing_training_is_reported_and_rerun_starts_from_the_failed_activity(stack):
    blob = stack.land("labelled", 300, seed=4, name="e2e-fails")
    started = stack.api.start({"files": [blob], "trainOptions": {"epochs": -1}})
    batch_id = started["runs"][0]["batchId"]
    run = stack.api.wait_for_run(batch_id, timeout=180)
    assert run["status"] == "failed"
    assert run["error"]["activity"] == "Train"
    assert "epochs" in run["error"]["message"]
    statuses = {a["name"]: a["status"] for a in run["activities"]}
    assert statuses["Preprocess"] == "succeeded" and statuses["Train"] == "failed"

    r = stack.api.request("POST", f"runs/{batch_id}/rerun")
    assert r.status_code == 202, r.text
    rerun = r.json()
    assert rerun["rerunOf"] == run["adfRunIds"][-1]
    assert rerun["runUri"] == f"/api/runs/{batch_id}" and "statusQueryGetUri" not in rerun
    again = stack.api.wait_for_rerun(batch_id, 2)
    assert len(again["adfRunIds"]) == 2
    new = stack.services().adf.run_status(again["adfRunIds"][-1])
    ran_again = {a["name"] for a in new["activities"] if a["status"] != "skipped"
                 and a["start"] and a["start"] >= new["runStart"]}
    assert "Train" in ran_again and "Preprocess" not in ran_again


def test_failed_runs_are_rerun_automatically_up_to_max_reruns(stack):
    blob = stack.land("labelled", 300, seed=6, name="e2e-auto-rerun")
    started = stack.api.start({"files": [blob], "trainOptions": {"epochs": -1}, "maxReruns": 1})
    run = stack.api.wait_for_run(started["runs"][0]["batchId"], timeout=180)
    assert run["status"] == "failed" and run["reruns"] == 1
    assert len(run["adfRunIds"]) == 2 == len(stack.adf_runs_for(run["batchId"]))


def test_cancel_through_the_api_cancels_the_adf_run(stack):
    blob = stack.land("labelled", 600, seed=7, name="e2e-cancel")
    batch_id = stack.api.start({"files": [blob]})["runs"][0]["batchId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = stack.api.run(batch_id)
        if record and record.get("adfRunIds") and record.get("status") == "running":
            break
        time.sleep(0.2)
    r = stack.api.request("POST", f"runs/{batch_id}/cancel")
    assert r.status_code == 202, r.text
    run = stack.api.wait_for_run(batch_id, timeout=120)
    assert run["status"] == "cancelled"
    (adf_run,) = stack.adf_runs_for(batch_id)
    assert adf_run["status"] in ("Cancelled", "Canceling")
    again = stack.api.request("POST", f"runs/{batch_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    # A record still saying "running" after its orchestration ended (a crash between the
    # two) is refused by name, not answered with a 500.
    records = RunRecords(stack.services().state)
    records.update(batch_id, {"status": "running"})
    try:
        stale = stack.api.request("POST", f"runs/{batch_id}/cancel")
        assert stale.status_code == 409 and "has ended" in stale.json()["detail"], stale.text
    finally:
        records.update(batch_id, {"status": "cancelled"})


def test_a_run_over_its_timeout_is_cancelled_in_data_factory(stack):
    blob = stack.land("labelled", 300, seed=5, name="e2e-timeout")
    started = stack.api.start({"files": [blob], "timeoutSeconds": 2})
    batch_id = started["runs"][0]["batchId"]
    run = stack.api.wait_for_run(batch_id, timeout=120)
    assert run["status"] == "timed_out"
    (adf_run,) = stack.adf_runs_for(batch_id)
    assert adf_run["status"] in ("Cancelled", "Canceling")


def test_bad_input_at_every_http_entry_is_named(stack):
    api = stack.api
    cases = [
        (b"{not json", 400, "JSON"),
        (b'{"mode": "sometimes"}', 400, "mode"),
        (b'{"files": "one.csv"}', 400, "files"),
        (b'{"files": ["unlabelled/2026/01/01/nope.csv"]}', 404, "nope.csv"),
        (b" " * (1024 * 1024 + 10), 413, "limit"),
    ]
    for body, status, word in cases:
        r = api.request("POST", "runs", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status, (body[:40], r.status_code, r.text)
        err = r.json()
        assert set(err) == {"error", "detail"} and word in err["detail"]
        assert "Traceback" not in r.text
    assert api.request("GET", "runs", params={"limit": "many"}).status_code == 400
    unknown = "unlabelled-" + "0" * 20  # a well-formed batch id with no run
    for method, path in (("GET", f"runs/{unknown}"), ("POST", f"runs/{unknown}/cancel"),
                         ("POST", f"runs/{unknown}/rerun")):
        r = api.request(method, path)
        assert (r.status_code, r.json()["error"]) == (404, "unknown run"), (path, r.text)
    assert api.request("GET", "runs/no-such-batch").status_code == 400  # not a batch id
    no_key = requests.post(f"{stack.stack.host.base_url}/api/runs", timeout=10)
    assert no_key.status_code == 401


def test_foreign_and_unexpected_events_are_acknowledged_and_ignored(stack):
    host = stack.stack.host
    url = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=on_blob_created"
    headers = {"aeg-event-type": "Notification", "x-functions-key": host.system_key("eventgrid_extension")}
    landing = stack.settings["LANDING_CONTAINER"]
    events = [
        {"id": "e1", "eventType": "Microsoft.Storage.BlobDeleted",
         "subject": f"/blobServices/default/containers/{landing}/blobs/labelled/2026/11/24/x.csv"},
        {"id": "e2", "eventType": "Microsoft.Storage.BlobCreated",
         "subject": "/blobServices/default/containers/elsewhere/blobs/labelled/2026/11/24/x.csv"},
    ]
    # A control, delivered last: a landing-layout file of the other kind (unlabelled) that
    # is not there, so its sealer starts, finds nothing to seal and completes.
    control = {"id": "e3", "eventType": "Microsoft.Storage.BlobCreated",
               "subject": f"/blobServices/default/containers/{landing}/blobs/"
                          "unlabelled/2026/11/24/not-there.csv"}
    before = {r["batchId"] for r in stack.api.runs(200)}
    since = datetime.now(UTC)
    for e in [*events, control]:
        body = [{**e, "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
                 "data": {"api": "PutBlob", "contentLength": 10, "url": "http://127.0.0.1/x"},
                 "dataVersion": "", "metadataVersion": "1", "eventTime": "2026-11-24T00:00:00Z"}]
        r = requests.post(url, json=body, headers=headers, timeout=10)
        assert r.status_code in (200, 202), r.text
    # Deliveries are answered after the function ran: every sealer these events started
    # exists now. Wait until the control's sealer has completed (its window closed, it
    # looked for files and started whatever it found), then check what happened.
    sealers = stack.wait_for_instances(
        lambda found: found and all(i["runtimeStatus"] in ("Completed", "Failed", "Terminated")
                                    for i in found),
        prefix="seal-", created_from=since)
    assert [i["instanceId"].rsplit("-", 1)[0] for i in sealers] == ["seal-unlabelled"], sealers
    assert sealers[0]["runtimeStatus"] == "Completed" and sealers[0]["output"]["batches"] == []
    assert {r["batchId"] for r in stack.api.runs(200)} == before


sweep_stack = module_stack("sweep", {"DEVSTACK_EVENTGRID_WATCH": "",  # every event is lost
                                     "SWEEP_SCHEDULE": "*/2 * * * * *"})


def test_the_sweep_picks_up_files_whose_events_were_lost(sweep_stack):
    blob = sweep_stack.land("labelled", 400, seed=8, name="sweep-only")
    (run,) = sweep_stack.api.wait_for_runs_of([blob], timeout=240)
    assert run["status"] == "succeeded" and run["reason"] == "hourly sweep"
    assert len(sweep_stack.adf_runs_for(run["batchId"])) == 1
    # the sweep also keeps the freshness monitor alive, as one instance however often it runs
    base = sweep_stack.stack.host.base_url
    listed = requests.get(f"{base}/runtime/webhooks/durabletask/instances", timeout=10).json()
    monitors = [i for i in listed if i["name"] == "freshness_monitor"]
    assert len(monitors) == 1 and monitors[0]["instanceId"] == "freshness-monitor"
    assert monitors[0]["runtimeStatus"] in ("Running", "Pending", "ContinuedAsNew")
