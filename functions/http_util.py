"""JSON responses and errors in the app's one shape: `{"error": ..., "detail": ...}`."""
from __future__ import annotations

import json

import azure.functions as func


def json_response(body, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, mimetype="application/json",
        headers=headers,
    )


def error(status: int, error: str, detail: str | None = None) -> func.HttpResponse:
    return json_response({"error": error, "detail": detail}, status)
