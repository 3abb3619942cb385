"""The dashboard's pages: GET /api/dashboard (overview), /api/dashboard/runs/{id} (one run),
/api/dashboard/alerts. Server-rendered HTML; the logic is in `shared.dashboard`, imported
inside the handlers (matplotlib loads on the first page, never at cold start).

Who may open them (`DASHBOARD_AUTH`, read when the app is indexed):
- `key` (default): function auth level, like the rest of the API: `?code=<function key>`;
  links between the pages carry the key on.
- `app-service`: for an app behind App Service Authentication ("Easy Auth", which signs
  people in with Microsoft Entra ID and injects `X-MS-CLIENT-PRINCIPAL-*` headers after
  removing any a client sent): the routes are anonymous to the Functions host and the
  handler refuses (401) a request without the principal header, so turning Easy Auth off by
  mistake does not publish the dashboard.
"""
import logging
import os

import azure.durable_functions as df
import azure.functions as func

from functions.http_util import maps_errors

bp = df.Blueprint()
log = logging.getLogger(__name__)

APP_SERVICE = os.environ.get("DASHBOARD_AUTH", "key").strip().lower() == "app-service"
AUTH = func.AuthLevel.ANONYMOUS if APP_SERVICE else func.AuthLevel.FUNCTION
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"
MAX_LIVE = 20  # active runs whose live stage the overview asks the Durable client for


def _context(req: func.HttpRequest):
    from datetime import UTC, datetime

    from shared.dashboard.html import Links
    from shared.errors import Unauthorized

    if APP_SERVICE and not req.headers.get(PRINCIPAL_HEADER):
        raise Unauthorized("sign in through App Service Authentication", "not signed in")
    return Links("/api/dashboard", req.params.get("code")), datetime.now(UTC)


def _html(text: str) -> func.HttpResponse:
    from shared.dashboard.html import HEADERS

    return func.HttpResponse(text, status_code=200, mimetype="text/html", charset="utf-8",
                             headers=HEADERS)


async def _live(client, records: list[dict]) -> dict[str, dict]:
    """{batchId: custom status} of running orchestrations (stage, elapsed seconds)."""
    out = {}
    for r in records[:MAX_LIVE]:
        if not r.get("instanceId"):
            continue
        try:
            status = await client.get_status(r["instanceId"])
        except Exception as exc:  # a page without one live stage beats no page
            log.warning("dashboard: no live status for %s: %s", r["instanceId"], exc)
            continue
        if isinstance(getattr(status, "custom_status", None), dict):
            out[r["batchId"]] = status.custom_status
    return out


@bp.route(route="dashboard", methods=["GET"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def dashboard_overview(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    import asyncio

    from shared.dashboard.data import overview_data
    from shared.dashboard.pages import overview_page
    from shared.services import get_services

    links, now = _context(req)
    data = await asyncio.to_thread(overview_data, get_services(), now)
    data["live"] = await _live(client, data["active"])
    return _html(await asyncio.to_thread(overview_page, data, links))


@bp.route(route="dashboard/runs/{id}", methods=["GET"], auth_level=AUTH)
@bp.durable_client_input(client_name="client")
@maps_errors
async def dashboard_run(req: func.HttpRequest, client: df.DurableOrchestrationClient):
    import asyncio

    from shared.dashboard.data import run_data
    from shared.dashboard.pages import run_page
    from shared.services import get_services

    links, now = _context(req)
    data = await asyncio.to_thread(run_data, get_services(), req.route_params.get("id", ""), now)
    if data["record"].get("status") == "running":
        data["live"] = (await _live(client, [data["record"]])).get(data["record"]["batchId"])
    return _html(await asyncio.to_thread(run_page, data, links))


@bp.route(route="dashboard/alerts", methods=["GET"], auth_level=AUTH)
@maps_errors
def dashboard_alerts(req: func.HttpRequest) -> func.HttpResponse:
    from shared.dashboard.data import alerts_data
    from shared.dashboard.pages import alerts_page
    from shared.services import get_services

    links, now = _context(req)
    return _html(alerts_page(alerts_data(get_services(), now), links))
