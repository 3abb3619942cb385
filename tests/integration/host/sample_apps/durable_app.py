"""A sample Durable app for the host stand-in tests, built like function_app.py. Activities
note each run in SAMPLE_OUT_DIR so tests can count how often they ran."""
import os
import time
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def note(kind: str, key) -> int:
    """Append a line for this run; returns how many runs of (kind, key) there have been."""
    path = Path(os.environ["SAMPLE_OUT_DIR"]) / f"{kind}-{key}.log"
    with open(path, "a") as f:
        f.write("run\n")
    return len(path.read_text().splitlines())


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(req.route_params["name"], req.params.get("id"),
                                         req.get_json() if body else None)
    return client.create_check_status_response(req, instance_id)


@app.activity_trigger(input_name="value")
def add_one(value: int) -> int:
    return value + 1


@app.activity_trigger(input_name="key")
def counted(key: str) -> str:
    note("counted", key)
    return f"done {key}"


@app.activity_trigger(input_name="key")
def slow_counted(key: str) -> str:
    note("slow", key)
    time.sleep(float(os.environ.get("SAMPLE_SLOW_SECONDS", "2")))
    return f"slow {key}"


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    runs = note("flaky", payload["key"])
    if runs <= payload["failures"]:
        raise RuntimeError(f"flaky failure {runs}")
    return f"ok after {runs}"


@app.activity_trigger(input_name="value")
def explode(value) -> None:
    raise ValueError(f"cannot handle {value}")


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    x = context.get_input()
    for _ in range(3):
        x = yield context.call_activity("add_one", x)
    return x


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("add_one", i) for i in range(n)])
    return sum(results)


@app.orchestration_trigger(context_name="context")
def timer_then_done(context: df.DurableOrchestrationContext):
    seconds = context.get_input()
    start = context.current_utc_datetime
    context.set_custom_status("waiting")
    yield context.create_timer(start + timedelta(seconds=seconds))
    context.set_custom_status("woke")
    return (context.current_utc_datetime - start).total_seconds()


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status("waiting for approval")
    answer = yield context.wait_for_external_event("approve")
    return {"approved": answer}


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    payload = context.get_input()
    opts = df.RetryOptions(first_retry_interval_in_milliseconds=200,
                           max_number_of_attempts=payload["attempts"])
    try:
        return (yield context.call_activity_with_retry("flaky", opts, payload))
    except Exception as exc:
        return "gave up: " + str(exc).splitlines()[0]


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", 7)
    except Exception as exc:
        return str(exc)
    return "no error"


@app.orchestration_trigger(context_name="context")
def fails(context: df.DurableOrchestrationContext):
    yield context.call_activity("explode", 1)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def cycles(context: df.DurableOrchestrationContext):
    state = context.get_input()
    yield context.call_activity("add_one", state["n"])
    context.set_custom_status({"n": state["n"], "history": len(context.histories)})
    if state["n"] + 1 < state["total"]:
        context.continue_as_new({"n": state["n"] + 1, "total": state["total"],
                                 "maxHistory": max(state.get("maxHistory", 0),
                                                   len(context.histories))})
        return None
    return {"n": state["n"] + 1, "maxHistory": max(state.get("maxHistory", 0),
                                                   len(context.histories))}


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    a = yield context.call_sub_orchestrator("chain", context.get_input())
    b = yield context.call_sub_orchestrator("chain", a, instance_id=f"{context.instance_id}-kid")
    return [a, b]


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("never")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def restartable(context: df.DurableOrchestrationContext):
    """Several activities and a timer, for the kill -9 test."""
    key = context.get_input()
    out = [(yield context.call_activity("counted", f"{key}-1"))]
    out.append((yield context.call_activity("slow_counted", f"{key}-2")))
    yield context.create_timer(context.current_utc_datetime + timedelta(seconds=3))
    out.append((yield context.call_activity("counted", f"{key}-3")))
    out.append((yield context.call_activity("counted", f"{key}-4")))
    return out


@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def start_from_event(event: func.EventGridEvent, client) -> None:
    """Non-HTTP triggers get the durable client binding too."""
    await client.start_new("chain", f"ev-{event.id}", event.get_json()["n"])
