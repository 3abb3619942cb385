"""The app's one error type for input it refuses, carrying its HTTP status.

Logic raises an `AppError` subclass with a detail that names the field, file or rule;
the entry layer (`functions/http_util.py`) turns it into `{"error": ..., "detail": ...}`
with the status, in one place. Nothing else maps exceptions to statuses.
"""
from __future__ import annotations


class AppError(Exception):
    status = 400
    error = "invalid request"

    def __init__(self, detail: str, error: str | None = None):
        super().__init__(detail)
        self.detail = detail
        if error is not None:
            self.error = error

    def to_body(self) -> dict:
        return {"error": self.error, "detail": self.detail}


class BadRequest(AppError):
    status, error = 400, "invalid request"


class Unauthorized(AppError):
    status, error = 401, "unauthorized"


class NotFound(AppError, LookupError):
    status, error = 404, "not found"


class Conflict(AppError):
    status, error = 409, "conflict"


class PayloadTooLarge(AppError):
    status, error = 413, "request body too large"


def describe_validation_error(err, limit: int | None = 5, show_input: bool = False,
                              root: str = "body") -> str:
    """A pydantic `ValidationError` as one line naming each field: `a.b: what is wrong`.
    `show_input` adds the rejected value (for settings; never for requests, whose values
    may be secrets or huge)."""
    parts = []
    for e in err.errors()[:limit]:
        path = ".".join(str(x) for x in e["loc"]) or root
        text = f"{path}: {'is required' if e['type'] == 'missing' else e['msg']}"
        got = e.get("input")
        if show_input and e["loc"] and e["type"] != "missing" and not isinstance(got, dict):
            text += f" (got {got!r})"
        parts.append(text)
    return "; ".join(parts)


def short(exc: BaseException, width: int = 300) -> str:
    """`Type: first line of the message`, for logs and health details."""
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0][:width] if text else ''}"
