"""JSON responses, and the one place where refused input becomes an HTTP error: an
`AppError` raised anywhere below a handler becomes `{"error": ..., "detail": ...}` with
the status it carries. Never a stack trace."""
from __future__ import annotations

import functools
import inspect
import json
import logging

import azure.functions as func

log = logging.getLogger(__name__)


def json_response(body, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json",
        headers=headers,
    )


def _refused(exc) -> func.HttpResponse:
    log.info("refused (%d): %s: %s", exc.status, exc.error, exc.detail)
    return json_response(exc.to_body(), exc.status)


def maps_errors(handler):
    """Wrap an HTTP handler (sync or async) so an `AppError` becomes its response."""
    from shared.errors import AppError

    if inspect.iscoroutinefunction(handler):
        @functools.wraps(handler)
        async def run_async(*args, **kwargs):
            try:
                return await handler(*args, **kwargs)
            except AppError as exc:
                return _refused(exc)
        return run_async

    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except AppError as exc:
            return _refused(exc)
    return run
