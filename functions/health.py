"""Health: anonymous `GET /api/health` says only whether the app is healthy
(`{"ok": bool}`, 200 or 503, from a per-process verdict refreshed at most every 15 s);
`GET /api/health/details` (function key) gives the whole report."""
import logging

import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response

bp = df.Blueprint()
log = logging.getLogger(__name__)
_verdict = None  # shared.monitoring.health.HealthVerdict, made at the first request


def _report() -> dict:
    from shared.monitoring.health import check_health, failing, settings_failure
    from shared.services import get_services
    from shared.settings import SettingsError

    try:
        report = check_health(get_services())
    except SettingsError as exc:
        report = settings_failure(exc)
    if not report["ok"]:
        log.warning("health: not ok: %s", ", ".join(failing(report)))
    return report


def verdict():
    global _verdict
    if _verdict is None:
        from shared.monitoring.health import HealthVerdict

        _verdict = HealthVerdict()
    return _verdict


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    ok = await verdict().ok(lambda: _report()["ok"])
    return json_response({"ok": ok}, 200 if ok else 503)


@bp.route(route="health/details", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health_details(req: func.HttpRequest) -> func.HttpResponse:
    report = _report()
    verdict().record(report["ok"])
    return json_response(report, 200 if report["ok"] else 503)
