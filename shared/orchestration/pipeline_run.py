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

Nothing is left half-done: a status read that fails all its tries is no news (the run is
looked at again after the wait; the timeout still ends it), and any other step that fails
all its tries (a start, a rerun, a cancel) ends the run as failed, its error naming the step,
so the record never says "running" forever. A cancel or timeout that finds the ADF run
already ended records how it ended (its outputs and error are real), not the cancel.
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
    ids = {"batchId": state["batch"]["batchId"], "instanceId": context.instance_id}
    try:
        result = yield from _follow(context, state, retry, ids)
    except Exception as exc:  # a step failed all its tries (the SDK throws it in here)
        reason = (str(exc).strip().splitlines() or ["unknown error"])[0][:500]
        state["outcome"] = "failed"
        result = _result(context, state, state.get("lastStatus") or {}, {
            "activity": None, "message": f"the app gave up on this run: {reason}"})
    if result is None:  # continued as new
        return None
    summary = yield context.call_activity_with_retry(c.FINISH_RUN, retry, result)
    return summary


def _follow(context, state: dict, retry, ids: dict):
    """Start (first generation) and follow the run: the result to record, or None once
    this generation continued as new."""
    now = context.current_utc_datetime

    first = "plan" not in state
    if first:  # first generation: record the run and start ADF exactly once
        plan = yield context.call_activity_with_retry(
            c.BEGIN_RUN, retry, {"batch": state["batch"], **ids})
        state["plan"] = plan  # (`first` is decided) a start that fails is recorded with it
        if state["batch"].get("rerunOf"):
            started = yield context.call_activity_with_retry(c.RERUN_ADF_RUN, retry, {
                **ids, "pipeline": plan["pipeline"], "runId": state["batch"]["rerunOf"]})
        else:
            started = yield context.call_activity_with_retry(c.START_ADF_RUN, retry, {
                **ids, "pipeline": plan["pipeline"], "parameters": plan["parameters"]})
        state.update(adfRunIds=[started["runId"]], startedAt=now.isoformat(),
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
    cancel = changed = last_news = None
    for _ in range(plan["pollsPerGeneration"]):
        run_id = state["adfRunIds"][-1]
        run = {**ids, "runId": run_id}
        if known is None:
            try:
                status = yield context.call_activity_with_retry(c.GET_ADF_RUN_STATUS, retry,
                                                                run)
            except Exception as exc:  # ARM out of reach: no news; look again after the wait
                seen = status if status.get("runId", run_id) == run_id and not status.get(
                    "terminal") else {}
                status = {**seen, "terminal": False,
                          "readError": (str(exc).strip().splitlines() or [""])[0][:500]}
        else:
            status, known = known, None
        state["lastStatus"] = status
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
            state["outcome"] = _after_cancel(status, "timed_out")
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
            if news == last_news:
                # The same hand-over again (each carries its look's time): the Python SDK
                # hands an event raised while no waiter was open to every later waiter of
                # its name in this history (azure-functions-durable-python#507), so every
                # wait from here would end at once. A new generation has a fresh history.
                break
            known, last_news = (news if news.get("runId") == run_id else None), news
            continue
        if winner == cancel:
            if not timer.is_completed:
                timer.cancel()
            status = yield context.call_activity_with_retry(c.CANCEL_ADF_RUN, retry, run)
            state["outcome"] = _after_cancel(status, "cancelled")
            break
    if state.get("outcome") is None:  # polls used up (or a repeated event): start afresh
        context.continue_as_new(state)  # with a short history, carrying the last status
        return None
    return _result(context, state, status, status.get("error"))


def _after_cancel(status: dict, asked: str) -> str:
    """What a cancel or timeout ended as: the run's own end if it had succeeded or failed
    before the cancel reached it, else what was asked."""
    ended = status.get("status")
    return ended if status.get("terminal") and ended in ("succeeded", "failed") else asked


def _result(context, state: dict, status: dict, error) -> dict:
    """The finished run, as FINISH_RUN records it."""
    finished = context.current_utc_datetime
    started = state.get("startedAt") or finished.isoformat()  # none if the start failed
    batch = state["batch"]
    return {
        "batchId": batch["batchId"], "instanceId": context.instance_id,
        "kind": batch["kind"], "mode": batch["mode"],
        "pipeline": (state.get("plan") or {}).get("pipeline"), "status": state["outcome"],
        "adfRunIds": state.get("adfRunIds", []), "startedAt": started,
        "finishedAt": finished.isoformat(),
        "durationSeconds": round((finished - datetime.fromisoformat(started)).total_seconds(),
                                 1),
        "stages": stages(status.get("activities", [])),
        "activities": status.get("activities", []), "error": error,
        "outputs": status.get("outputs", {}), "reruns": state.get("reruns", 0),
    }
