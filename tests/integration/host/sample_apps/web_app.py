"""A sample app with HTTP, timer and Event Grid functions for the host stand-in tests.
Timer ticks and events are written to SAMPLE_OUT_DIR for the tests to read."""
import json
import os
import uuid
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


def _out(name: str, payload) -> None:
    # Written aside then renamed: a test reading the folder never sees a half-written file.
    path = Path(os.environ["SAMPLE_OUT_DIR"], name)
    aside = path.with_name(f".{name}.tmp")
    aside.write_text(json.dumps(payload))
    aside.replace(path)


@app.route(route="items/{id:int}", methods=["GET", "POST"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"id": req.route_params["id"], "q": req.params.get("q"),
                    "method": req.method, "body": req.get_body().decode(),
                    "url": req.url, "agent": req.headers.get("x-test")}),
        status_code=201 if req.method == "POST" else 200, mimetype="application/json",
        headers={"X-Served-By": "sample"})


@app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="open/{*rest}", auth_level=func.AuthLevel.ANONYMOUS)
def open_route(req: func.HttpRequest) -> str:
    return f"rest={req.route_params.get('rest')}"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("bad handler")


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=True)
def tick(timer: func.TimerRequest) -> None:
    _out(f"tick-{uuid.uuid4().hex}.json", {"past_due": timer.past_due})


@app.event_grid_trigger(arg_name="event")
def on_blob(event: func.EventGridEvent) -> None:
    _out(f"event-{uuid.uuid4().hex}.json", {
        "id": event.id, "subject": event.subject, "data": event.get_json(),
        # an Event Grid schema event, or a CloudEvent (type/source)
        "type": getattr(event, "event_type", None) or getattr(event, "type", None),
        "topic": getattr(event, "topic", None) or getattr(event, "source", None)})
