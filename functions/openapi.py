"""GET /api/openapi.json: the OpenAPI 3.1 document of the HTTP API (`shared.openapi`).

Anonymous: the document is static (built once per process, no I/O), names no host, key,
setting or data, and says no more than the README; tools that import an API (API
Management, client generators, Schemathesis) fetch it without a key. Every route it
describes still needs its key."""
import azure.durable_functions as df
import azure.functions as func

from functions.http_util import json_response

bp = df.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    from shared.openapi import document

    return json_response(document())
