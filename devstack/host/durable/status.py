"""Instance status as the Durable HTTP API returns it, and the management URLs and client
binding JSON that point `DurableOrchestrationClient` at this host."""
from __future__ import annotations

import json
from urllib.parse import quote

from devstack.host.durable.history import T, parse_iso

INSTANCE_PLACEHOLDER = "INSTANCEID"
WEBHOOK_PATH = "/runtime/webhooks/durabletask"


def _ts(text: str | None) -> str | None:
    return None if text is None else parse_iso(text).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_or_text(text):
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def status_json(rec: dict, show_input: bool = True, show_history: bool = False,
                show_history_output: bool = False) -> dict:
    body = {
        "name": rec["name"],
        "instanceId": rec["instanceId"],
        "runtimeStatus": rec["runtimeStatus"],
        "input": rec["input"] if show_input else None,
        "customStatus": rec["customStatus"],
        "output": rec["output"],
        "createdTime": _ts(rec["createdTime"]),
        "lastUpdatedTime": _ts(rec["lastUpdatedTime"]),
    }
    if show_history:
        body["historyEvents"] = history_events(rec, show_input, show_history_output)
    return body


def history_events(rec: dict, show_input: bool, show_output: bool) -> list[dict]:
    """The condensed history of the current execution, as the real API shows it: scheduling
    events are folded into their completions (FunctionName, ScheduledTime)."""
    scheduled: dict[int, dict] = {}
    out: list[dict] = []
    for e in rec["history"]:
        kind = e["EventType"]
        ts = _ts(e["Timestamp"])
        if kind in (T.TASK_SCHEDULED, T.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[e["EventId"]] = e
        elif kind == T.EXECUTION_STARTED:
            item = {"EventType": "ExecutionStarted", "FunctionName": e.get("Name"),
                    "Timestamp": ts}
            if show_input:
                item["Input"] = e.get("Input")
            out.append(item)
        elif kind in (T.TASK_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                      T.TASK_FAILED, T.SUB_ORCHESTRATION_INSTANCE_FAILED):
            origin = scheduled.get(e.get("TaskScheduledId"), {})
            item = {"EventType": _EVENT_NAMES[kind], "FunctionName": origin.get("Name"),
                    "ScheduledTime": _ts(origin.get("Timestamp")), "Timestamp": ts}
            if kind in (T.TASK_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
                if show_output:
                    item["Result"] = _json_or_text(e.get("Result"))
            else:
                item["Reason"], item["Details"] = e.get("Reason"), e.get("Details")
            out.append(item)
        elif kind == T.TIMER_FIRED:
            out.append({"EventType": "TimerFired", "FireAt": e.get("FireAt"), "Timestamp": ts})
        elif kind == T.EVENT_RAISED:
            item = {"EventType": "EventRaised", "Name": e.get("Name"), "Timestamp": ts}
            if show_input:
                item["Input"] = _json_or_text(e.get("Input"))
            out.append(item)
        elif kind == T.EXECUTION_COMPLETED:
            item = {"EventType": "ExecutionCompleted", "OrchestrationStatus": "Completed",
                    "Timestamp": ts}
            if show_output:
                item["Result"] = _json_or_text(e.get("Result"))
            out.append(item)
        elif kind == T.EXECUTION_FAILED:
            out.append({"EventType": "ExecutionFailed", "OrchestrationStatus": "Failed",
                        "Reason": e.get("Reason"), "Details": e.get("Details"),
                        "Timestamp": ts})
        elif kind == T.EXECUTION_TERMINATED:
            out.append({"EventType": "ExecutionTerminated", "Input": e.get("Input"),
                        "Timestamp": ts})
    return out


_EVENT_NAMES = {
    T.TASK_COMPLETED: "TaskCompleted", T.TASK_FAILED: "TaskFailed",
    T.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "SubOrchestrationInstanceCompleted",
    T.SUB_ORCHESTRATION_INSTANCE_FAILED: "SubOrchestrationInstanceFailed",
}


def management_urls(base_url: str, task_hub: str, system_key: str,
                    instance_id: str = INSTANCE_PLACEHOLDER) -> dict[str, str]:
    """The payload `create_check_status_response` returns (and the client binding's
    template, with the instance id placeholder the client replaces)."""
    root = f"{base_url}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
    q = f"taskHub={quote(task_hub)}&connection=Storage&code={quote(system_key)}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{root}?{q}",
        "sendEventPostUri": f"{root}/raiseEvent/{{eventName}}?{q}",
        "terminatePostUri": f"{root}/terminate?reason={{text}}&{q}",
        "rewindPostUri": f"{root}/rewind?reason={{text}}&{q}",
        "purgeHistoryDeleteUri": f"{root}?{q}",
        "restartPostUri": f"{root}/restart?{q}",
        "suspendPostUri": f"{root}/suspend?reason={{text}}&{q}",
        "resumePostUri": f"{root}/resume?reason={{text}}&{q}",
    }


def client_binding(base_url: str, task_hub: str, system_key: str) -> str:
    """The JSON the durable client binding hands the function (DurableOrchestrationClient)."""
    hook = f"{base_url}{WEBHOOK_PATH}"
    code = f"code={quote(system_key)}"
    return json.dumps({
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri":
                f"{hook}/orchestrators/{{functionName}}[/{{instanceId}}]?{code}",
            "createAndWaitOnNewInstancePostUri":
                f"{hook}/orchestrators/{{functionName}}[/{{instanceId}}]?timeout="
                f"{{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{code}",
        },
        "managementUrls": management_urls(base_url, task_hub, system_key),
        "baseUrl": hook,
        "requiredQueryStringParameters": code,
        "rpcBaseUrl": f"{hook}/",
        "httpBaseUrl": "",
    })
