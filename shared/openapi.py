"""The OpenAPI 3.1 document of the app's HTTP API, served at `GET /api/openapi.json`.

Kept as data: the paths below are a plain dict, and the request and response schemas come
from the pydantic models that parse and shape them (`RunRequest`, `CommonAlert`, `Alert`,
`Batch`) and from the id pattern routes are checked with (`BATCH_ID`), so the document
cannot drift from the parsers. `tests/unit/test_openapi.py` checks it against the routes
the app registers (every route and method, its auth level), and the e2e fuzz test checks
the running API against it.

Every error is `{"error", "detail"}` with a 4xx status; a 401 for a missing or wrong
function key comes from the Functions host itself, with an empty body. Routes served by
the host rather than the app (the Durable HTTP API, the Event Grid webhook) are not here.
"""
from __future__ import annotations

import functools

from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _model_schemas() -> dict[str, dict]:
    """Schemas of the pydantic models, as components (nested models included)."""
    from shared.alerts.intake import CommonAlert
    from shared.alerts.model import Alert
    from shared.api_models import RunRequest
    from shared.landing.batch import Batch

    _, defs = models_json_schema(
        [(RunRequest, "validation"), (CommonAlert, "validation"),
         (Alert, "serialization"), (Batch, "serialization")], ref_template=REF)
    return defs["$defs"]


ERROR = {
    "type": "object", "required": ["error", "detail"], "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "description": "what kind of refusal, e.g. invalid request"},
        "detail": {"type": ["string", "null"],
                   "description": "the field, file or rule the request broke"},
    },
}

RUN_STARTED = {
    "type": "object",
    "required": ["batchId", "instanceId", "kind", "mode", "files", "started", "runUri"],
    "properties": {
        "batchId": {"type": "string"}, "instanceId": {"type": "string"},
        "feed": {"type": "string", "description": "the feed the batch's files belong to"},
        "kind": {"type": "string", "description": "labelled or unlabelled (the default "
                 "feed), or a kind its feed declares"},
        "mode": {"enum": ["train-and-score", "score"]},
        "files": {"type": "integer", "minimum": 0, "description": "files in the batch"},
        "started": {"type": "boolean",
                    "description": "false: the batch's run existed already (same instance)"},
        "runUri": {"type": "string", "description": "/api/runs/{batchId}"},
        "rerunOf": {"type": "string", "description": "rerun: the failed ADF run it recovers"},
    },
}

NAMES = {"type": "array", "items": {"type": "string"}}

START_RESULT = {
    "type": "object", "required": ["runs"],
    "properties": {
        "runs": {"type": "array", "items": _ref("RunStarted")},
        "unsettled": {**NAMES, "description": "sweep: files not quiet yet, taken later"},
        "beingClaimed": {**NAMES, "description": "files another detector is sealing now: POST them again shortly for their run"},
    },
}

RUN_RECORD = {
    "description": "The run record: its batch plus what the run did. Fields appear as the "
                   "run gets to them.",
    "allOf": [_ref("Batch"), {
        "type": "object", "required": ["createdAt", "updatedAt"],
        "properties": {
            "createdAt": {"type": "string"}, "updatedAt": {"type": "string"},
            "status": {"enum": ["running", "succeeded", "failed", "timed_out", "cancelled"]},
            "instanceId": {"type": "string"}, "pipeline": {"type": "string"},
            "codeVersion": {"type": "string"}, "startedAt": {"type": "string"},
            "finishedAt": {"type": "string"}, "durationSeconds": {"type": "number"},
            "adfRunIds": NAMES, "reruns": {"type": "integer"},
            "stages": {"type": "array", "items": {"type": "object"},
                       "description": "the ADF activities in order, with timings"},
            "activities": {"type": "array", "items": {"type": "object"}},
            "outputs": {"type": "object", "description": "each activity's outputs.json"},
            "checks": {"type": "array", "items": {"type": "object"},
                       "description": "the findings of the checks after the run"},
            "alerts": {"type": "array", "items": {"type": "object"},
                       "description": "notifications the findings caused"},
            "error": {"type": ["object", "null"],
                      "description": "a failed run: the activity and its message"},
            "live": {"type": "object",
                     "description": "while running: the orchestration's runtime and custom "
                                    "status (its stage)",
                     "properties": {"runtimeStatus": {"type": ["string", "null"]},
                                    "customStatus": {}}},
        },
    }],
}

CANCEL_RESULT = {
    "type": "object", "required": ["batchId", "instanceId", "cancelRequested"],
    "properties": {"batchId": {"type": "string"}, "instanceId": {"type": "string"},
                   "cancelRequested": {"const": True}},
}

ALERT_INTAKE_RESULT = {
    "type": "object", "required": ["accepted", "action"],
    "properties": {
        "accepted": {"const": True},
        "alertId": {"type": ["string", "null"]},
        "state": {"enum": ["Fired", "Resolved", None]},
        "count": {"type": ["integer", "null"]},
        "notified": NAMES,
        "action": {"enum": ["retrain", "score", "none"],
                   "description": "ALERT_RULE_ACTIONS for the rule, when the alert newly fires"},
        "ignored": {"type": ["string", "null"],
                    "description": "why an accepted alert was not acted on"},
        "runs": {"type": "array", "items": _ref("RunStarted")},
    },
}

CHECK = {"type": "object", "required": ["ok"], "properties": {
    "ok": {"type": "boolean"},
    "detail": {"type": ["string", "object"],
               "description": "what is wrong, or what the dependency answered"}}}

HEALTH_REPORT = {
    "type": "object", "required": ["ok", "checks"],
    "properties": {
        "ok": {"type": "boolean"},
        "checks": {
            "type": "object", "required": ["settings"],
            "additionalProperties": _ref("HealthCheck"),
            "description": "settings, storage, dataFactory, alertSinks, logAnalytics, "
                           "runWatcher (lastLookedAt, ageSeconds; the last three only when "
                           "storage answers)",
        },
    },
}

HEALTH_VERDICT = {"type": "object", "required": ["ok"], "additionalProperties": False,
                  "properties": {"ok": {"type": "boolean"}}}


def _html(description: str) -> dict:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


RESPONSES = {
    "BadRequest": _error("invalid request: the detail names the field, file or rule"),
    "Unauthorized": {"description": "missing or wrong function key (from the host, empty "
                                    "body)"},
    "NotFound": _error("not found: the detail names what"),
    "Conflict": _error("the run is not in a state that allows this"),
    "PayloadTooLarge": _error("request body too large: the detail gives the limit"),
}


def _refused(*statuses: int) -> dict:
    names = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 409: "Conflict",
             413: "PayloadTooLarge"}
    return {str(s): {"$ref": f"#/components/responses/{names[s]}"} for s in statuses}


def _limit(default: int, maximum: int = 200) -> dict:
    return {"name": "limit", "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}}


ANONYMOUS: list = []  # an operation's `security` that needs no key


def _paths() -> dict:
    run_id = {"$ref": "#/components/parameters/RunId"}
    return {
        "/health": {"get": {
            "operationId": "health", "summary": "Is the app healthy (anonymous, cached 15 s)",
            "description": "Only the verdict, from a per-process check made at most every "
                           "15 seconds whatever the request rate. The report is at "
                           "/health/details (function key).",
            "security": ANONYMOUS,
            "responses": {"200": _json(_ref("HealthVerdict"), "healthy"),
                          "503": _json(_ref("HealthVerdict"), "not healthy")},
        }},
        "/health/details": {"get": {
            "operationId": "health_details",
            "summary": "The health report: settings, storage, Data Factory, alert sinks, "
                       "Log Analytics (checked now)",
            "responses": {"200": _json(_ref("HealthReport"), "every check is ok"),
                          "503": _json(_ref("HealthReport"), "some check is not ok"),
                          **_refused(401)},
        }},
        "/dashboard": {"get": {
            "operationId": "dashboard_overview",
            "summary": "The dashboard's overview page (HTML: health, alerts, runs, plots)",
            "responses": {"200": _html("the page"), **_refused(401)},
        }},
        "/dashboard/runs/{id}": {"get": {
            "operationId": "dashboard_run", "summary": "One run's page (HTML: timeline, "
                                                       "checks, alerts, outputs)",
            "parameters": [run_id],
            "responses": {"200": _html("the page"), **_refused(400, 401, 404)},
        }},
        "/dashboard/alerts": {"get": {
            "operationId": "dashboard_alerts",
            "summary": "Open and recent alerts with their history and delivery (HTML)",
            "responses": {"200": _html("the page"), **_refused(401)},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document (anonymous)",
            "security": ANONYMOUS,
            "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
        }},
        "/runs": {
            "post": {
                "operationId": "start_runs",
                "summary": "Start runs now: named files, a prefix, or (no body) a sweep",
                "description": "The same files again give the same instance (started: "
                               "false). Body limit 1 MB.",
                "requestBody": {"required": False, "content": {
                    "application/json": {"schema": _ref("RunRequest")}}},
                "responses": {"202": _json(_ref("StartResult"), "runs started or found"),
                              **_refused(400, 401, 404, 413)},
            },
            "get": {
                "operationId": "list_runs", "summary": "Recent runs, newest first",
                "parameters": [_limit(20), {
                    "name": "kind", "in": "query", "required": False,
                    "schema": {"enum": ["labelled", "unlabelled"]}}, {
                    "name": "feed", "in": "query", "required": False,
                    "description": "only this feed's runs (a name in FEEDS_FILE)",
                    "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object", "required": ["runs"],
                                            "properties": {"runs": {
                                                "type": "array",
                                                "items": _ref("RunRecord")}}}, "runs"),
                              **_refused(400, 401)},
            },
        },
        "/runs/{id}": {"get": {
            "operationId": "get_run", "summary": "One run's record",
            "parameters": [run_id],
            "responses": {"200": _json(_ref("RunRecord"), "the run"),
                          **_refused(400, 401, 404)},
        }},
        "/runs/{id}/cancel": {"post": {
            "operationId": "cancel_run",
            "summary": "Cancel a running run's ADF run (through its orchestration)",
            "parameters": [run_id],
            "responses": {"202": _json(_ref("CancelResult"), "cancel requested"),
                          **_refused(400, 401, 404, 409)},
        }},
        "/runs/{id}/rerun": {"post": {
            "operationId": "rerun_run",
            "summary": "Rerun a failed, timed-out or cancelled run from its failed activity",
            "parameters": [run_id],
            "responses": {"202": _json(_ref("RunStarted"), "rerun started or found"),
                          **_refused(400, 401, 404, 409)},
        }},
        "/alerts": {
            "post": {
                "operationId": "receive_alert",
                "summary": "Azure Monitor alert intake (common alert schema)",
                "description": "Body limit 256 KB. With ALERT_INTAKE_SECRET set, the "
                               "X-Alert-Secret header must match (401 otherwise).",
                "parameters": [{"name": "X-Alert-Secret", "in": "header", "required": False,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("CommonAlert")}}},
                "responses": {
                    "202": _json(_ref("AlertIntakeResult"), "accepted"),
                    **_refused(400, 413),
                    "401": _json(_ref("Error"), "wrong alert secret; a missing or wrong "
                                                "function key gets the host's empty 401"),
                },
            },
            "get": {
                "operationId": "list_alerts",
                "summary": "Open alerts (state=open), or open and recent ones (state=all)",
                "parameters": [{"name": "state", "in": "query", "required": False,
                                "description": "open (the default) or all",
                                "schema": {"enum": ["open", "all"], "default": "open"}},
                               _limit(50)],
                "responses": {"200": _json({"type": "object", "required": ["alerts"],
                                            "properties": {"alerts": {
                                                "type": "array", "items": _ref("Alert")}}},
                                           "alerts, newest activity first"),
                              **_refused(400, 401)},
            },
        },
    }


@functools.cache
def document() -> dict:
    """The whole document (built once per process; callers must not change it)."""
    from shared.landing.batch import BATCH_ID

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "adf-ml-glue",
            "version": "1",
            "description": "Start, follow, cancel and rerun the ML pipeline runs; feed "
                           "Azure Monitor alerts in; health. JSON in and out; every "
                           "refusal is {\"error\", \"detail\"} with a 4xx status.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key",
                                "description": "a function key (or the host's master key)"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code",
                                     "description": "the same key as a query parameter"},
            },
            "parameters": {"RunId": {
                "name": "id", "in": "path", "required": True,
                "description": "a batch id: labelled-<20 hex digits>, or for an alert "
                               "action <that>-<retrain|score>-<12 hex digits>",
                "schema": {"type": "string", "pattern": f"^(?:{BATCH_ID.pattern})$"},
            }},
            "responses": RESPONSES,
            "schemas": {
                **_model_schemas(),
                "Error": ERROR, "RunStarted": RUN_STARTED, "StartResult": START_RESULT,
                "RunRecord": RUN_RECORD, "CancelResult": CANCEL_RESULT,
                "AlertIntakeResult": ALERT_INTAKE_RESULT, "HealthCheck": CHECK,
                "HealthReport": HEALTH_REPORT, "HealthVerdict": HEALTH_VERDICT,
            },
        },
    }
