"""ADF status mapping, the parts mutation testing found unguarded: every field of the summary,
stage selection with parallel and skipped activities, which failure is reported, and the
ordering of retries and activities without times."""
import json

from shared.adf.status import status_signature, summarize_run


def run(status, message="", **extra):
    return {"runId": "r1", "pipelineName": "train_and_score", "status": status,
            "message": message, "runStart": "2026-01-01T00:00:00Z", "runGroupId": "g1",
            "parameters": {"batchId": "b1"}, **extra}


def act(name, status, start, end=None, output=None, error=None, ms=None, type_="Custom"):
    return {"activityName": name, "activityType": type_, "status": status,
            "activityRunStart": start, "activityRunEnd": end, "durationInMs": ms,
            "output": output, "error": error}


def test_every_field_of_a_finished_run():
    s = summarize_run(run("Succeeded", runEnd="2026-01-01T00:01:00Z", durationInMs=61234.56),
                      [act("Pre", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z",
                           output={"customOutput": {"rows": 3}}, ms=4321.5, type_="Copy")],
                      inherited_outputs={"Train": {"a": 1}})
    assert s == {
        "runId": "r1", "pipeline": "train_and_score", "status": "succeeded",
        "adfStatus": "Succeeded", "terminal": True, "stage": None,
        "activities": [{"name": "Pre", "type": "Copy", "status": "succeeded",
                        "start": "2026-01-01T00:00:01Z", "end": "2026-01-01T00:00:05Z",
                        "durationSeconds": 4.322, "attempts": 1, "error": None}],
        "error": None, "outputs": {"Train": {"a": 1}, "Pre": {"rows": 3}},
        "runStart": "2026-01-01T00:00:00Z", "runEnd": "2026-01-01T00:01:00Z",
        "durationSeconds": 61.235, "message": None, "runGroupId": "g1",
        "parameters": {"batchId": "b1"}}


def test_missing_fields_read_as_none_or_empty():
    s = summarize_run({"status": "InProgress"}, [])
    assert (s["runId"], s["pipeline"], s["runStart"], s["runEnd"], s["durationSeconds"],
            s["message"], s["runGroupId"], s["parameters"], s["outputs"]) == (
        None, None, None, None, None, None, None, {}, {})
    assert (s["status"], s["terminal"], s["stage"]) == ("running", False, None)


def test_parallel_activities_stage_is_the_latest_started_one_still_running():
    s = summarize_run(run("InProgress"), [
        act("A", "InProgress", "2026-01-01T00:00:02Z"),
        act("B", "InProgress", "2026-01-01T00:00:03Z"),
        act("C", "Succeeded", "2026-01-01T00:00:04Z", "2026-01-01T00:00:05Z"),
        act("D", "Queued", None)])
    assert s["stage"] == "B"
    # listed in start order; one not started yet sorts first
    assert [(a["name"], a["status"]) for a in s["activities"]] == [
        ("D", "queued"), ("A", "running"), ("B", "running"), ("C", "succeeded")]


def test_without_a_running_activity_the_stage_is_the_latest_not_skipped():
    s = summarize_run(run("Cancelling"), [
        act("A", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"),
        act("B", "Skipped", "2026-01-01T00:00:09Z", "2026-01-01T00:00:09Z")])
    assert (s["status"], s["stage"]) == ("cancelling", "A")
    only_skipped = summarize_run(run("Cancelled"), [act("B", "Skipped", "2026-01-01T00:00:09Z")])
    assert only_skipped["stage"] is None
    s = summarize_run(run("InProgress"), [
        act("A", "InProgress", None), act("B", "InProgress", "2026-01-01T00:00:01Z")])
    assert s["stage"] == "B"  # an activity without a start time is not the latest


def test_a_failed_run_reports_the_first_activity_to_fail_and_its_message():
    s = summarize_run(run("Failed", "no target here"), [
        act("Late", "Failed", "2026-01-01T00:00:01Z", "2026-01-01T00:00:09Z", error="late"),
        act("Early", "Failed", "2026-01-01T00:00:02Z", "2026-01-01T00:00:05Z",
            error={"message": "early", "errorCode": "x"})])
    assert s["error"] == {"activity": "Early", "message": "early"}
    assert s["stage"] == "Early"
    assert [a["error"] for a in s["activities"]] == ["late", "early"]
    s = summarize_run(run("Failed", "no target here"), [
        act("A", "Failed", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", error={})])
    assert s["error"] == {"activity": "A", "message": "no target here"}
    s = summarize_run(run("Failed", ""), [])
    assert s["error"] == {"activity": None, "message": "pipeline run failed"}
    assert s["stage"] is None
    s = summarize_run(run("Failed", "Operation on target Score failed: "), [])
    assert s["error"] == {"activity": "Score",
                          "message": "Operation on target Score failed: "}


def test_a_retry_without_a_start_time_is_not_the_last_try():
    s = summarize_run(run("InProgress"), [
        act("Pre", "Failed", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", error="x"),
        act("Pre", "Queued", None)])
    (only,) = s["activities"]
    assert (only["status"], only["attempts"]) == ("failed", 2)


def test_outputs_only_from_succeeded_activities_with_a_custom_output_dict():
    s = summarize_run(run("Succeeded"), [
        act("A", "Succeeded", "t1", output={"customOutput": "text"}),
        act("B", "Failed", "t2", output={"customOutput": {"x": 1}}),
        act("C", "Succeeded", "t3", output=["not", "a", "dict"]),
        act("D", "succeeded", "t4", output={"customOutput": {"y": 2}})])
    assert s["outputs"] == {"D": {"y": 2}}


def test_run_message_and_unknown_activity_status():
    s = summarize_run(run("InProgress", "queued behind another run"),
                      [act("A", "SomethingNew", "2026-01-01T00:00:01Z")])
    assert s["message"] == "queued behind another run"
    assert s["activities"][0]["status"] == "running"  # an unknown status is not terminal


def test_signature_changes_with_run_status_stage_and_each_activity():
    base = {"status": "running", "stage": "Train",
            "activities": [{"name": "Preprocess", "status": "Succeeded"},
                           {"name": "Train", "status": "InProgress"}]}
    sig = status_signature(base)
    assert json.loads(sig) == ["running", "Train",
                               [["Preprocess", "Succeeded"], ["Train", "InProgress"]]]
    assert status_signature({**base, "status": "succeeded"}) != sig
    assert status_signature({**base, "stage": "Score"}) != sig
    renamed = {**base, "activities": [{"name": "Prep", "status": "Succeeded"},
                                      base["activities"][1]]}
    assert status_signature(renamed) != sig
    # what does not count as progress: other fields of the run or of an activity
    noisy = {**base, "runEnd": "x", "activities": [{**a, "durationSeconds": 5}
                                                   for a in base["activities"]]}
    assert status_signature(noisy) == sig
    assert json.loads(status_signature({})) == [None, None, []]
