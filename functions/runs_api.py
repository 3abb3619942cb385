"""The runs HTTP API (function auth level): start, list, inspect, cancel and rerun runs.
Handlers translate HTTP to calls and back; decisions live in `shared.orchestration.starters`."""
import logging

import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response, maps_errors

bp = df.Blueprint()
log = logging.getLogger(__name__)
AUTH = func.AuthLevel.FUNCTION


@bp.route(route="runs", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def start_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.api_models import MAX_RUN_REQUEST_BYTES, parse_run_request
    from shared.json_body import check_content_length
    from shared.orchestration.starters import start_files, sweep_and_start
    from shared.services import get_services

    check_content_length(req.headers.get("Content-Length"), MAX_RUN_REQUEST_BYTES)
    services = get_services()
    request = parse_run_request(req.get_body(), services.feeds)
    if request is None:  # empty body: sweep now
        return json_response(await sweep_and_start(client, services, "api"), 202)
    reason = request.reason or "api"
    if request.files:
        result = await start_files(client, services, request.files, request.mode, reason,
                                   request.overrides())
    else:
        prefixes = [request.prefix] if request.prefix else None
        result = await sweep_and_start(client, services, reason, prefixes, request.mode,
                                       request.overrides(), feed=request.feed)
    return json_response(result, 202)


@bp.route(route="runs", methods=["GET"], auth_level=AUTH)
@maps_errors
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api_models import parse_feed, parse_kind, parse_limit
    from shared.runs.records import RunRecords
    from shared.services import get_services

    services = get_services()
    limit = parse_limit(req.params.get("limit"))
    kind = parse_kind(req.params.get("kind"))
    feed = parse_feed(req.params.get("feed"), services.feeds)
    return json_response({"runs": RunRecords(services.state).recent(limit, kind=kind,
                                                                     feed=feed)})


@bp.route(route="runs/{id}", methods=["GET"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.orchestration.starters import run_record
    from shared.services import get_services

    record = await run_record(get_services(), req.route_params.get("id", ""))
    if record.get("status") == "running" and record.get("instanceId"):
        status = await client.get_status(record["instanceId"])
        record["live"] = {"runtimeStatus": getattr(status.runtime_status, "value", None),
                          "customStatus": status.custom_status}
    return json_response(record)


@bp.route(route="runs/{id}/cancel", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.orchestration.starters import request_cancel
    from shared.services import get_services

    result = await request_cancel(client, get_services(), req.route_params.get("id", ""))
    return json_response(result, 202)


@bp.route(route="runs/{id}/rerun", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def rerun_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.orchestration.starters import start_rerun
    from shared.services import get_services

    result = await start_rerun(client, get_services(), req.route_params.get("id", ""))
    return json_response(result, 202)
