"""The per-instance Durable state machine, without I/O.

An instance is a JSON-able record: its history (the events the orchestrator replays), an
inbox of messages not yet applied (activity results, timer fires, raised events, child
completions, terminate), and what is outstanding (activities, timers, sub-orchestrations).
`step()` applies the whole inbox as one episode: it appends the new events, replays the
orchestrator through the package's executor, records the actions it asked for and returns
the work to start. Storage and threads live in `engine.py`.

Event ids: the Python SDK numbers tasks while replaying (one sequence per execution) and the
engine must use the same numbers. New actions get the next numbers in the order the
returned action list names them. Retries are run by the engine (as DTFx does): the SDK
numbers the retry timer when it replays the failed attempt and the next attempt when it
replays that timer firing, without running any orchestrator code in between. So those
events go first in an episode and the engine numbers them in the same order.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from devstack.host.durable.history import T, event, iso
from devstack.host.durable.replay import context_json, run_episode

TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
# DTFx OrchestrationStatus numbers, as written into ExecutionCompleted.
_STATUS_CODE = {"Running": 0, "Completed": 1, "ContinuedAsNew": 2, "Failed": 3,
                "Canceled": 4, "Terminated": 5, "Pending": 6}

CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY = 0, 1, 2, 3
CONTINUE_AS_NEW, CREATE_TIMER, WAIT_EVENT = 4, 5, 6
UNSUPPORTED = {7: "call_entity", 8: "call_http", 9: "signal_entity"}


@dataclass
class Effects:
    """Work an episode asks for, started by the engine after the record is persisted."""

    activities: list[dict] = field(default_factory=list)
    timers: list[dict] = field(default_factory=list)
    children: list[dict] = field(default_factory=list)
    notify: list[tuple[str, dict]] = field(default_factory=list)  # (instance id, message)
    rerun: bool = False  # run another episode right away (continue-as-new)


def new_execution_id() -> str:
    return uuid.uuid4().hex


def new_instance(instance_id: str, name: str, input_value, now: datetime,
                 parent: dict | None = None) -> dict:
    """A Pending instance; its first episode starts it. `input_value` is the JSON value the
    orchestrator's context gets as `input` (the serialized input text for the Python client)."""
    return {
        "instanceId": instance_id, "name": name, "runtimeStatus": "Pending",
        "input": input_value, "output": None, "customStatus": None,
        "createdTime": iso(now), "lastUpdatedTime": iso(now),
        "parent": parent, "executionId": new_execution_id(), "executions": 0,
        "history": [], "nextId": 0, "knownActions": 0, "timerActions": {},
        "retries": {}, "outstanding": {"activities": {}, "timers": {}, "children": {}},
        "inbox": [],
    }


def message(kind: str, execution_id: str | None = None, **fields) -> dict:
    return {"id": uuid.uuid4().hex, "kind": kind, "executionId": execution_id, **fields}


def child_instance_id(parent_id: str, task_id: int) -> str:
    return f"{parent_id}:{task_id:04X}"


# --- episode -------------------------------------------------------------------------------


def step(rec: dict, now: datetime, handlers: dict) -> Effects:
    """Apply every message in `rec['inbox']` as one episode (mutates `rec`)."""
    eff = Effects()
    inbox, rec["inbox"] = rec["inbox"], []
    if rec["runtimeStatus"] in TERMINAL:
        return eff
    current = [m for m in inbox if m.get("executionId") in (None, rec["executionId"])]
    terminate = next((m for m in current if m["kind"] == "Terminate"), None)
    if terminate is not None:
        _terminate(rec, terminate.get("reason"), now, eff)
        return eff

    history = rec["history"]
    new_from = len(history)
    fresh = not history
    first, exhausted, rest = [], [], []
    for m in current:
        _apply_message(rec, m, now, eff, first, exhausted, rest)
    if not (fresh or first or exhausted or rest):
        return eff  # only duplicates or stale messages: nothing for the orchestrator
    history.append(event(T.ORCHESTRATOR_STARTED, now))
    if fresh:
        history.append(event(T.EXECUTION_STARTED, now, Name=rec["name"], Input=rec["input"],
                             Version="", OrchestrationInstance={
                                 "InstanceId": rec["instanceId"],
                                 "ExecutionId": rec["executionId"]},
                             ParentInstance=rec["parent"]))
        rec["runtimeStatus"] = "Running"
    history.extend(first + exhausted + rest)

    handler = handlers.get(rec["name"])
    if handler is None:
        _fail(rec, f"The function '{rec['name']}' doesn't exist, is disabled, or is not an "
                   "orchestrator function.", None, now, eff)
        history.append(event(T.ORCHESTRATOR_COMPLETED, now))
        return eff

    parent_id = (rec.get("parent") or {}).get("instanceId")
    result = run_episode(handler, context_json(rec["instanceId"], history, new_from,
                                               rec["input"], parent_id))
    rec["customStatus"] = result.custom_status
    rec["lastUpdatedTime"] = iso(now)
    if result.error is not None:
        _fail(rec, f"Orchestrator function '{rec['name']}' failed: {result.error}",
              result.details, now, eff)
        history.append(event(T.ORCHESTRATOR_COMPLETED, now))
        return eff

    if len(result.actions) < rec["knownActions"]:
        _fail(rec, f"Non-deterministic workflow detected: orchestrator function '{rec['name']}'"
                   f" scheduled {len(result.actions)} actions on replay where the history "
                   f"has {rec['knownActions']} (was its code changed while it ran?)",
              None, now, eff)
        history.append(event(T.ORCHESTRATOR_COMPLETED, now))
        return eff
    _cancel_timers(rec, result.actions)
    can_input, problem = _schedule(rec, result.actions[rec["knownActions"]:], now, eff)
    rec["knownActions"] = len(result.actions)
    if problem:
        eff.activities.clear(), eff.timers.clear(), eff.children.clear()
        _fail(rec, problem, None, now, eff)
    elif result.done and can_input is not _NO_CAN:
        history.append(event(T.ORCHESTRATOR_COMPLETED, now))
        _continue_as_new(rec, can_input, eff)
        return eff
    elif result.done:
        rec["output"] = result.output
        rec["runtimeStatus"] = "Completed"
        result_text = json.dumps(result.output)
        history.append(event(T.EXECUTION_COMPLETED, now, Result=result_text,
                             OrchestrationStatus=_STATUS_CODE["Completed"]))
        _clear_outstanding(rec)
        _notify_parent(rec, "SubOrchestrationCompleted", eff, result=result_text)
    history.append(event(T.ORCHESTRATOR_COMPLETED, now))
    return eff


_NO_CAN = object()
_ACT = (T.TASK_COMPLETED, T.TASK_FAILED)
_SUB = (T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_FAILED)
# message kind -> (outstanding bucket, completed event, failed event, succeeded?)
_RESULTS = {
    "TaskCompleted": ("activities", *_ACT, True),
    "TaskFailed": ("activities", *_ACT, False),
    "SubOrchestrationCompleted": ("children", *_SUB, True),
    "SubOrchestrationFailed": ("children", *_SUB, False),
}


def _apply_message(rec, m, now, eff, first, exhausted, rest) -> None:
    """Turn one inbox message into history events in the right group (see module doc)."""
    out = rec["outstanding"]
    kind = m["kind"]
    if kind in _RESULTS:
        bucket, done_type, failed_type, ok = _RESULTS[kind]
        key = str(m["taskId"])
        if out[bucket].pop(key, None) is None:
            return  # a second delivery (an activity that ran twice): already applied
        retry = rec["retries"].pop(key, None)
        if ok:
            rest.append(event(done_type, now, TaskScheduledId=m["taskId"],
                              Result=m.get("result")))
            return
        failed = event(failed_type, now, TaskScheduledId=m["taskId"],
                       Reason=m.get("reason"), Details=m.get("details"))
        if retry is None:
            rest.append(failed)
        else:
            first.append(failed)
            first.append(_retry_timer(rec, retry, now, eff))
    elif kind == "TimerFired":
        key = str(m["timerId"])
        timer = out["timers"].pop(key, None)
        if timer is None:
            return  # cancelled, or fired twice
        fired = event(T.TIMER_FIRED, now, TimerId=m["timerId"], FireAt=timer["fireAt"])
        retry = timer.get("retry")
        if retry is None:
            rest.append(fired)
        elif retry["attempt"] >= retry["maxAttempts"]:
            exhausted.append(fired)  # the SDK fails the task now: no new number
        else:
            first.append(fired)
            retry = dict(retry, attempt=retry["attempt"] + 1)
            first.append(_schedule_call(rec, retry["call"], now, eff, retry=retry))
    elif kind == "EventRaised":
        rest.append(event(T.EVENT_RAISED, now, Name=m["name"], Input=m.get("input")))


def _retry_timer(rec, retry, now, eff) -> dict:
    """The timer between attempts (the SDK also expects one after the last attempt)."""
    timer_id = _alloc(rec)
    last = retry["attempt"] >= retry["maxAttempts"]
    fire_at = now if last else now + timedelta(milliseconds=retry["firstRetryIntervalMs"])
    rec["outstanding"]["timers"][str(timer_id)] = {"fireAt": iso(fire_at), "retry": retry}
    eff.timers.append(_timer_work(rec, timer_id, iso(fire_at)))
    return event(T.TIMER_CREATED, now, timer_id, FireAt=iso(fire_at))


def _alloc(rec) -> int:
    n = rec["nextId"]
    rec["nextId"] = n + 1
    return n


def _timer_work(rec, timer_id: int, fire_at: str) -> dict:
    return {"instanceId": rec["instanceId"], "executionId": rec["executionId"],
            "timerId": timer_id, "fireAt": fire_at}


def _schedule_call(rec, call: dict, now, eff, retry: dict | None = None) -> dict:
    """Schedule an activity or sub-orchestration call under the next event id."""
    task_id = _alloc(rec)
    if retry is not None:
        rec["retries"][str(task_id)] = retry
    if call["kind"] == "activity":
        rec["outstanding"]["activities"][str(task_id)] = {"name": call["name"],
                                                          "input": call["input"]}
        eff.activities.append({"instanceId": rec["instanceId"],
                               "executionId": rec["executionId"], "taskId": task_id,
                               "name": call["name"], "input": call["input"]})
        return event(T.TASK_SCHEDULED, now, task_id, Name=call["name"], Input=call["input"])
    child_id = call.get("instanceId") or child_instance_id(rec["instanceId"], task_id)
    rec["outstanding"]["children"][str(task_id)] = {"instanceId": child_id,
                                                    "name": call["name"]}
    eff.children.append({"instanceId": child_id, "name": call["name"], "input": call["input"],
                         "parent": {"instanceId": rec["instanceId"],
                                    "executionId": rec["executionId"], "taskId": task_id}})
    return event(T.SUB_ORCHESTRATION_INSTANCE_CREATED, now, task_id, Name=call["name"],
                 Input=call["input"], InstanceId=child_id)


def _schedule(rec, actions: list[dict], now, eff):
    """Record new actions; returns (continue-as-new input or _NO_CAN, problem or None)."""
    can_input = _NO_CAN
    start = rec["knownActions"]
    history = rec["history"]
    for offset, a in enumerate(actions):
        kind = a.get("actionType")
        if kind in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY):
            call = {"kind": "activity" if kind in (CALL_ACTIVITY, CALL_ACTIVITY_RETRY)
                    else "sub", "name": a["functionName"], "input": a.get("input"),
                    "instanceId": a.get("instanceId")}
            retry = None
            if kind in (CALL_ACTIVITY_RETRY, CALL_SUB_RETRY):
                opts = a.get("retryOptions") or {}
                retry = {"call": call, "attempt": 1,
                         "maxAttempts": int(opts.get("maxNumberOfAttempts", 1)),
                         "firstRetryIntervalMs": int(
                             opts.get("firstRetryIntervalInMilliseconds", 1000))}
            history.append(_schedule_call(rec, call, now, eff, retry=retry))
        elif kind == CREATE_TIMER:
            timer_id = _alloc(rec)
            fire_at = a["fireAt"]
            rec["timerActions"][str(start + offset)] = timer_id
            history.append(event(T.TIMER_CREATED, now, timer_id, FireAt=fire_at))
            if not a.get("isCanceled"):
                rec["outstanding"]["timers"][str(timer_id)] = {"fireAt": fire_at}
                eff.timers.append(_timer_work(rec, timer_id, fire_at))
        elif kind == CONTINUE_AS_NEW:
            can_input = a.get("input")
        elif kind == WAIT_EVENT:
            pass  # raised events are delivered by name; nothing to schedule
        else:
            what = UNSUPPORTED.get(kind, f"action type {kind}")
            return can_input, (f"Orchestrator function '{rec['name']}' used {what}, which "
                               "the devstack host does not support")
    return can_input, None


def _cancel_timers(rec, actions: list[dict]) -> None:
    """A timer the orchestrator cancelled (e.g. the loser of task_any) never fires."""
    timers = rec["outstanding"]["timers"]
    for index, timer_id in rec["timerActions"].items():
        i = int(index)
        if i < len(actions) and actions[i].get("isCanceled"):
            timers.pop(str(timer_id), None)


def _continue_as_new(rec, new_input, eff) -> None:
    rec.update(input=new_input, executionId=new_execution_id(),
               executions=rec.get("executions", 0) + 1, history=[], nextId=0,
               knownActions=0, timerActions={}, retries={}, output=None,
               runtimeStatus="Running")
    _clear_outstanding(rec)
    eff.rerun = True


def _clear_outstanding(rec) -> None:
    rec["outstanding"] = {"activities": {}, "timers": {}, "children": {}}
    rec["retries"] = {}


def _fail(rec, reason: str, details: str | None, now, eff) -> None:
    rec["runtimeStatus"] = "Failed"
    rec["output"] = reason
    rec["lastUpdatedTime"] = iso(now)
    rec["history"].append(event(T.EXECUTION_FAILED, now, Reason=reason, Details=details,
                                OrchestrationStatus=_STATUS_CODE["Failed"]))
    _clear_outstanding(rec)
    _notify_parent(rec, "SubOrchestrationFailed", eff, reason=reason, details=details)


def _terminate(rec, reason, now, eff) -> None:
    rec["runtimeStatus"] = "Terminated"
    rec["output"] = reason
    rec["lastUpdatedTime"] = iso(now)
    rec["history"].extend([
        event(T.ORCHESTRATOR_STARTED, now),
        event(T.EXECUTION_TERMINATED, now, Input=reason),
        event(T.ORCHESTRATOR_COMPLETED, now),
    ])
    _clear_outstanding(rec)
    # DTFx leaves the parent waiting; a local stack is better served by failing it.
    _notify_parent(rec, "SubOrchestrationFailed", eff,
                   reason=f"Sub-orchestration '{rec['instanceId']}' was terminated: {reason}",
                   details=None)


def _notify_parent(rec, kind: str, eff, **fields) -> None:
    parent = rec.get("parent")
    if parent:
        eff.notify.append((parent["instanceId"],
                           message(kind, parent["executionId"], taskId=parent["taskId"],
                                   **fields)))


# --- recovery ------------------------------------------------------------------------------


def pending_work(rec: dict) -> Effects:
    """What a restarted engine must start again for a non-terminal instance: outstanding
    activities (they may run a second time), timers, and children that may not exist yet."""
    eff = Effects()
    if rec["runtimeStatus"] in TERMINAL:
        return eff
    out = rec["outstanding"]
    for key, a in out["activities"].items():
        eff.activities.append({"instanceId": rec["instanceId"],
                               "executionId": rec["executionId"], "taskId": int(key),
                               "name": a["name"], "input": a["input"]})
    for key, t in out["timers"].items():
        eff.timers.append(_timer_work(rec, int(key), t["fireAt"]))
    history_inputs = {e.get("EventId"): e.get("Input") for e in rec["history"]
                      if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_CREATED}
    for key, c in out["children"].items():
        eff.children.append({"instanceId": c["instanceId"], "name": c["name"],
                             "input": history_inputs.get(int(key)),
                             "parent": {"instanceId": rec["instanceId"],
                                        "executionId": rec["executionId"],
                                        "taskId": int(key)}})
    eff.rerun = bool(rec["inbox"]) or rec["runtimeStatus"] == "Pending"
    return eff


def wanted(rec: dict, msg: dict) -> bool:
    """Whether a message can still matter to the instance (cheap check before storing it):
    results of work no longer outstanding and messages of an older execution cannot."""
    if rec["runtimeStatus"] in TERMINAL:
        return False
    if msg.get("executionId") not in (None, rec["executionId"]):
        return False
    out = rec["outstanding"]
    kind = msg["kind"]
    if kind in ("TaskCompleted", "TaskFailed"):
        return str(msg["taskId"]) in out["activities"]
    if kind in ("SubOrchestrationCompleted", "SubOrchestrationFailed"):
        return str(msg["taskId"]) in out["children"]
    if kind == "TimerFired":
        return str(msg["timerId"]) in out["timers"]
    return True


def blob_name(instance_id: str) -> str:
    """Instance ids may hold any character; percent-encoding keeps prefixes as prefixes."""
    return "instances/" + quote(instance_id, safe="")
