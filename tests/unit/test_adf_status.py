from shared.adf.status import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    map_run_status,
    summarize_run,
)


def run(status, message="", **extra):
    return {"runId": "r1", "pipelineName": "train_and_score", "status": status,
            "message": message, "runStart": "2026-01-01T00:00:00Z", "runGroupId": "r1",
            "parameters": {"batchId": "b1"}, **extra}


def act(name, status, start, end=None, output=None, error=None, ms=None):
    return {"activityName": name, "activityType": "Custom", "status": status,
            "activityRunStart": start, "activityRunEnd": end, "durationInMs": ms,
            "output": output, "error": error}


def test_sets_are_explicit():
    assert TERMINAL_STATUSES == {"succeeded", "failed", "cancelled"}
    assert FAILURE_STATUSES == {"failed", "cancelled"}
    assert map_run_status("InProgress") == "running"
    assert map_run_status("Canceling") == "cancelling"
    assert map_run_status("SomethingNew") == "running"  # never terminal by accident


def test_queued_run_has_no_stage():
    s = summarize_run(run("Queued"), [])
    assert (s["status"], s["terminal"], s["stage"], s["error"]) == ("queued", False, None, None)


def test_running_stage_is_the_activity_in_progress():
    s = summarize_run(run("InProgress"), [
        act("Preprocess", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z", ms=4000),
        act("Train", "InProgress", "2026-01-01T00:00:06Z"),
    ])
    assert s["status"] == "running" and s["stage"] == "Train"
    assert s["activities"][0]["durationSeconds"] == 4.0


def test_failed_run_names_the_failing_activity_and_its_error():
    s = summarize_run(
        run("Failed", "Operation on target Train failed: Command exited with code 2",
            runEnd="2026-01-01T00:01:00Z", durationInMs=60000),
        [act("Preprocess", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z",
             output={"customOutput": {"rowsOut": 10}}),
         act("Train", "Failed", "2026-01-01T00:00:06Z", "2026-01-01T00:00:09Z",
             error={"message": "Command exited with code 2", "errorCode": "UserError"}),
         act("Score", "Skipped", "2026-01-01T00:00:09Z", "2026-01-01T00:00:09Z")])
    assert s["status"] == "failed" and s["terminal"]
    assert s["stage"] == "Train"
    assert s["error"] == {"activity": "Train", "message": "Command exited with code 2"}
    assert s["outputs"] == {"Preprocess": {"rowsOut": 10}}
    assert [a["status"] for a in s["activities"]] == ["succeeded", "failed", "skipped"]
    assert s["durationSeconds"] == 60.0


def test_failed_run_without_a_target_message_falls_back_to_the_failed_activity():
    s = summarize_run(run("Failed", "something odd"), [
        act("A", "Failed", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z",
            error={"message": "bad"})])
    assert s["error"] == {"activity": "A", "message": "bad"}


def test_retries_collapse_to_the_last_try_with_a_count():
    s = summarize_run(run("Succeeded"), [
        act("Preprocess", "Succeeded", "2026-01-01T00:00:09Z", "2026-01-01T00:00:10Z",
            output={"customOutput": {"try": 2}}),
        act("Preprocess", "Failed", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z",
            error={"message": "flaky"}),
    ])
    assert len(s["activities"]) == 1
    assert s["activities"][0]["attempts"] == 2 and s["activities"][0]["status"] == "succeeded"
    assert s["outputs"] == {"Preprocess": {"try": 2}}
    assert s["stage"] is None and s["error"] is None


def test_cancelled_run_stage_is_the_activity_that_was_running():
    s = summarize_run(run("Cancelled"), [
        act("Preprocess", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"),
        act("Train", "Cancelled", "2026-01-01T00:00:03Z", "2026-01-01T00:00:04Z")])
    assert (s["status"], s["terminal"], s["stage"], s["error"]) == \
        ("cancelled", True, "Train", None)


def test_inherited_outputs_are_overridden_by_this_runs_outputs():
    s = summarize_run(run("Succeeded"), [
        act("Train", "Succeeded", "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z",
            output={"customOutput": {"v": "new"}})],
        inherited_outputs={"Preprocess": {"rows": 5}, "Train": {"v": "old"}})
    assert s["outputs"] == {"Preprocess": {"rows": 5}, "Train": {"v": "new"}}


def test_a_web_activitys_response_body_is_its_output_without_what_adf_adds():
    body = {"name": "batchjob-1", "properties": {"status": "Completed"}}
    web = {**act("CheckJob", "Succeeded", "2026-01-01T00:00:03Z", "2026-01-01T00:00:04Z",
                 output={**body, "ADFWebActivityResponseHeaders": {"Server": "x"},
                         "effectiveIntegrationRuntime": "AutoResolve", "executionDuration": 1}),
           "activityType": "WebActivity"}
    failed = {**act("InvokeEndpoint", "Failed", "2026-01-01T00:00:02Z",
                    output={"error": "refused"}), "activityType": "WebActivity"}
    custom = act("Preprocess", "Succeeded", "2026-01-01T00:00:01Z", output={"exitcode": 0})
    s = summarize_run(run("Succeeded"), [custom, failed, web])
    assert s["outputs"] == {"CheckJob": body}  # a failed call and a Custom without customOutput: none
