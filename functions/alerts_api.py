"""Alert intake from Azure Monitor (common alert schema) and the list of alerts."""
import logging

import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response, maps_errors

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
@maps_errors
async def receive_alert(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    import asyncio
    from datetime import UTC, datetime

    from shared.alerts import deliver
    from shared.alerts.intake import (
        MAX_BODY_BYTES,
        SECRET_HEADER,
        ActionNotStarted,
        action_started,
        receive_alert,
    )
    from shared.json_body import check_content_length
    from shared.orchestration.starters import start_action_run
    from shared.services import get_services

    check_content_length(req.headers.get("Content-Length"), MAX_BODY_BYTES)
    services = get_services()
    # Header only: a secret in the query string ends up in URL logs.
    secret = req.headers.get(SECRET_HEADER)
    # Blob and HTTP work off the event loop the other async functions share.
    result = await asyncio.to_thread(receive_alert, services, req.get_body(), secret,
                                     datetime.now(UTC))
    if result.notifications:
        await asyncio.to_thread(deliver, services, result.notifications)
    body = result.to_response()
    if result.action in ("retrain", "score") and result.alert:
        alert_id = result.alert["id"]
        try:
            runs = await start_action_run(client, services, result.action, alert_id)
            await asyncio.to_thread(action_started, services, alert_id, result.action, runs,
                                    datetime.now(UTC))
        except Exception as exc:  # Durable or storage refused: 503, so the sender retries
            log.warning("alert %s: %s run not started: %s", alert_id, result.action,
                        type(exc).__name__)
            raise ActionNotStarted(
                f"alert {alert_id} is recorded, but its {result.action} run could not be "
                f"started ({type(exc).__name__}); send the alert again") from None
        body["runs"] = runs
    return json_response(body, 202)


@bp.route(route="alerts", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@maps_errors
def list_alerts(req: func.HttpRequest) -> func.HttpResponse:
    from shared.alerts import list_alerts
    from shared.api_models import parse_alert_state, parse_limit
    from shared.services import get_services

    limit = parse_limit(req.params.get("limit"), default=50)
    open_only = parse_alert_state(req.params.get("state"))
    return json_response({"alerts": list_alerts(get_services(), open_only=open_only,
                                                limit=limit)})
