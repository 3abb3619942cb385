"""The runs HTTP API (function auth level): start, list, inspect, cancel and rerun runs."""
import logging

import azure.durable_functions as df
import azure.functions as func

from functions.http_util import error, json_response

bp = df.Blueprint()
log = logging.getLogger(__name__)
AUTH = func.AuthLevel.FUNCTION


@bp.route(route="runs", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
async def start_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.api_models import BadRequest, parse_run_request
    from shared.landing.detection import UnknownFiles
    from shared.orchestration.starters import start_files, sweep_and_start

    try:
        request = parse_run_request(req.get_body())
    except OverflowError as exc:
        return error(413, "request body too large", str(exc))
    except BadRequest as exc:
        return error(400, "invalid request", str(exc))
    reason = (request and request.reason) or "api"
    overrides = request and request.model_dump(include={"trainOptions", "timeoutSeconds",
                                                        "maxReruns"})
    try:
        if request and request.files:
            result = await start_files(client, request.files, request.mode, reason, overrides)
        else:
            prefixes = [request.prefix] if request and request.prefix else None
            result = await sweep_and_start(client, reason, prefixes,
                                           request.mode if request else None, overrides)
    except UnknownFiles as exc:
        return error(404, "unknown files", str(exc))
    return json_response(result, 202)


@bp.route(route="runs", methods=["GET"], auth_level=AUTH)
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    from shared.api_models import BadRequest, parse_limit
    from shared.runs.records import RunRecords

    try:
        limit = parse_limit(req.params.get("limit"))
    except BadRequest as exc:
        return error(400, "invalid request", str(exc))
    kind = req.params.get("kind")
    return json_response({"runs": RunRecords().recent(limit, kind=kind)})


async def _record_or_404(req: func.HttpRequest):
    """(batch id, run record) for the route's {id}, or (batch id, 404 response)."""
    import asyncio

    from shared.runs.records import RunRecords

    batch_id = req.route_params.get("id", "")
    record = await asyncio.to_thread(RunRecords().get, batch_id)
    if record is None:
        return batch_id, error(404, "unknown run", f"no run for batch {batch_id!r}")
    return batch_id, record


@bp.route(route="runs/{id}", methods=["GET"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
async def get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    _, record = await _record_or_404(req)
    if isinstance(record, func.HttpResponse):
        return record
    if record.get("status") == "running" and record.get("instanceId"):
        status = await client.get_status(record["instanceId"])
        record["live"] = {"runtimeStatus": getattr(status.runtime_status, "value", None),
                          "customStatus": status.custom_status}
    return json_response(record)


@bp.route(route="runs/{id}/cancel", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
async def cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.orchestration.pipeline_run import CANCEL_EVENT

    batch_id, record = await _record_or_404(req)
    if isinstance(record, func.HttpResponse):
        return record
    if record.get("status") != "running":
        return error(409, "run is not running", f"run {batch_id} is {record.get('status')}")
    await client.raise_event(record["instanceId"], CANCEL_EVENT, {"by": "api"})
    log.info("batch %s: cancel requested for instance %s", batch_id, record["instanceId"])
    return json_response({"batchId": batch_id, "instanceId": record["instanceId"],
                          "cancelRequested": True}, 202)


@bp.route(route="runs/{id}/rerun", methods=["POST"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
async def rerun_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    from shared.orchestration.starters import PIPELINE_RUN, ensure_started

    batch_id, record = await _record_or_404(req)
    if isinstance(record, func.HttpResponse):
        return record
    if record.get("status") not in ("failed", "timed_out", "cancelled") or not record.get("adfRunIds"):
        return error(409, "nothing to rerun",
                     f"run {batch_id} is {record.get('status')}; only a failed run is rerun")
    attempt = len(record["adfRunIds"])
    instance_id = f"{batch_id}-rerun{attempt}"
    # The same batch and options as the failed run (ADF reruns with the same parameters).
    batch = {k: record[k] for k in ("batchId", "kind", "mode", "manifestPath", "files",
                                    "trainOptions", "timeoutSeconds", "maxReruns")
             if record.get(k) is not None}
    batch["rerunOf"] = record["adfRunIds"][-1]
    started = await ensure_started(client, PIPELINE_RUN, instance_id, {"batch": batch})
    urls = client.create_http_management_payload(instance_id)
    return json_response({"batchId": batch_id, "instanceId": instance_id, "started": started,
                          "rerunOf": batch["rerunOf"],
                          "statusQueryGetUri": urls.get("statusQueryGetUri")}, 202)
