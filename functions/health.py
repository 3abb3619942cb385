"""GET /api/health: are the settings valid and are the dependencies reachable."""
import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response

bp = df.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.monitoring.health import check_health, settings_failure
    from shared.services import get_services
    from shared.settings import SettingsError

    try:
        report = check_health(get_services())
    except SettingsError as exc:
        report = settings_failure(exc)
    return json_response(report, 200 if report["ok"] else 503)
