"""`pipeline_run`: start one batch's ADF run exactly once, follow it to the end, judge it.

Instance id = batch id, so duplicates collapse. The history stays bounded for runs that last
days: after `pollsPerGeneration` polls the orchestration continues as new, carrying its state.
A `cancel` external event (from the HTTP API) cancels the ADF run. Every activity's payload
names the batch and the instance (and the ADF run once there is one), so each log line an
activity writes carries them (`shared.telemetry`).

Following the run (the plan's `tracking`, from RUN_TRACKING): with `watcher` (the default)
the run waits for `run_changed` events from the run watcher, each carrying the run's new
status, with a safety-net poll of its own every `safetyNetSeconds` and one at the start of
each later generation (events raised while a generation ends are lost with its history),
so a lost event or a stopped watcher delays the run but never strands it; an event about
another ADF run (an earlier try) just makes it look for itself. With `poll` (and for inputs
written before the watcher) it polls, backing off while nothing changes. Either wait is
stretched by the `slowdown` the last status reported while ARM's read budget is low.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from shared.adf.status import status_signature
from shared.orchestration import contract as c
from shared.orchestration.polling import next_poll_interval, stages, wait_seconds


def pipeline_run(context):
    state = dict(context.get_input() or {})
    retry = c.retry_options(state.get("retry"))
    now = context.current_utc_datetime
    ids = {"batchId": state["batch"]["batchId"], "instanceId": context.instance_id}

    first = "plan" not in state
    if first:  # first generation: record the run and start ADF exactly once
        plan = yield context.call_activity_with_retry(
            c.BEGIN_RUN, retry, {"batch": state["batch"], **ids})
        if state["batch"].get("rerunOf"):
            started = yield context.call_activity_with_retry(c.RERUN_ADF_RUN, retry, {
                **ids, "pipeline": plan["pipeline"], "runId": state["batch"]["rerunOf"]})
        else:
            started = yield context.call_activity_with_retry(c.START_ADF_RUN, retry, {
                **ids, "pipeline": plan["pipeline"], "parameters": plan["parameters"]})
        state.update(plan=plan, adfRunIds=[started["runId"]], startedAt=now.isoformat(),
                     interval=plan["pollSeconds"], signature="", reruns=0, outcome=None)
        if plan.get("tracking") == "watcher":  # the watcher reports from here on
            state["lastStatus"] = {"runId": started["runId"], "status": "queued",
                                   "terminal": False, "stage": None, "activities": []}

    plan = state["plan"]
    watching = plan.get("tracking") == "watcher"
    started_at = datetime.fromisoformat(state["startedAt"])
    status: dict = state.get("lastStatus") or {}
    # A status that needs no poll: the run just started. A later generation looks for
    # itself first: an event that came as the last one ended went with its history.
    known = status if watching and first else None
    # One waiter per event name at a time, kept until its event comes: the SDK hands an
    # event to the newest waiter of its name, so a waiter left behind by a wait the timer
    # won would swallow an event raised while an activity runs. With none left behind, such
    # an event completes the live waiter (or waits for the next one) and is seen at once.
    cancel = changed = None
    for _ in range(plan["pollsPerGeneration"]):
        run_id = state["adfRunIds"][-1]
        run = {**ids, "runId": run_id}
        if known is None:
            status = yield context.call_activity_with_retry(c.GET_ADF_RUN_STATUS, retry, run)
        else:
            status, known = known, None
        now = context.current_utc_datetime
        elapsed = (now - started_at).total_seconds()
        context.set_custom_status({"stage": status.get("stage") or status.get("status"),
                                   "status": status.get("status"), "adfRunId": run_id,
                                   "activities": status.get("activities", []),
                                   "elapsedSeconds": round(elapsed, 1)})
        if status.get("terminal"):
            if status["status"] == "failed" and state["reruns"] < plan["maxReruns"]:
                again = yield context.call_activity_with_retry(c.RERUN_ADF_RUN, retry, {
                    **run, "pipeline": plan["pipeline"]})
                state["adfRunIds"].append(again["runId"])
                state["reruns"] += 1
                state["interval"] = plan["pollSeconds"]
                continue  # known is None: look at the new run at once
            state["outcome"] = status["status"]
            break
        if elapsed >= plan["timeoutSeconds"]:
            status = yield context.call_activity_with_retry(c.CANCEL_ADF_RUN, retry, run)
            state["outcome"] = "timed_out"
            break
        signature = status_signature(status)
        state["interval"] = next_poll_interval(signature != state["signature"], state["interval"],
                                               plan["pollSeconds"], plan["maxPollSeconds"])
        state["signature"] = signature
        wait = wait_seconds(plan, state["interval"], status.get("slowdown"))
        wake = now + timedelta(seconds=min(wait, max(1.0, plan["timeoutSeconds"] - elapsed)))
        timer = context.create_timer(wake)
        cancel = cancel or context.wait_for_external_event(c.CANCEL_EVENT)
        waits = [timer, cancel]
        if watching:
            changed = changed or context.wait_for_external_event(c.RUN_CHANGED_EVENT)
            waits.append(changed)
        winner = yield context.task_any(waits)
        if watching and winner == changed:
            if not timer.is_completed:
                timer.cancel()
            news, changed = changed.result or {}, None
            if isinstance(news, str):  # the Durable client sends event data as JSON text
                news = json.loads(news)
            known = news if news.get("runId") == run_id else None
            continue
        if winner == cancel:
            if not timer.is_completed:
                timer.cancel()
            status = yield context.call_activity_with_retry(c.CANCEL_ADF_RUN, retry, run)
            state["outcome"] = "cancelled"
            break
    else:  # this generation's polls are used up: start afresh with a short history
        state["lastStatus"] = status
        context.continue_as_new(state)
        return None

    finished = context.current_utc_datetime
    result = {
        "batchId": state["batch"]["batchId"], "instanceId": context.instance_id,
        "kind": state["batch"]["kind"], "mode": state["batch"]["mode"],
        "pipeline": plan["pipeline"], "status": state["outcome"],
        "adfRunIds": state["adfRunIds"], "startedAt": state["startedAt"],
        "finishedAt": finished.isoformat(),
        "durationSeconds": round((finished - started_at).total_seconds(), 1),
        "stages": stages(status.get("activities", [])),
        "activities": status.get("activities", []), "error": status.get("error"),
        "outputs": status.get("outputs", {}), "reruns": state["reruns"],
    }
    summary = yield context.call_activity_with_retry(c.FINISH_RUN, retry, result)
    return summary
