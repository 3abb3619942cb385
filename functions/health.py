"""GET /api/health: are the settings valid and is storage reachable."""
import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response

bp = df.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.monitoring.health import check_health

    report = check_health()
    return json_response(report, 200 if report["ok"] else 503)
