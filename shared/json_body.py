"""Request bodies, refused the same way at every way in: size first (the declared
`Content-Length`, then the body itself), then strict JSON (RFC 8259: no NaN or Infinity,
no nesting deeper than the parser can follow, no numbers Python refuses to convert), each
refusal an `AppError` naming what is wrong."""
from __future__ import annotations

import json

from shared.errors import BadRequest, PayloadTooLarge


def digits_exceed(digits: str, limit: int) -> bool:
    """Whether ASCII `digits` exceed `limit`, without converting a number of any length
    (Python refuses to convert more than 4,300 digits)."""
    digits = digits.lstrip("0")
    return len(digits) > len(str(limit)) or int(digits or "0") > limit


def check_content_length(header: str | None, limit: int) -> None:
    """Refuse a body by its declared size, before reading it (when the size is given; a
    malformed header is left to the size check of the body itself)."""
    value = (header or "").strip()
    if value.isascii() and value.isdigit() and digits_exceed(value, limit):
        shown = value if len(value) <= 20 else f"{value[:20]}..."
        raise PayloadTooLarge(f"Content-Length is {shown} bytes; the limit is {limit}")


def parse_json_body(body: bytes, limit: int) -> object | None:
    """The decoded JSON body (None when empty); BadRequest on malformed JSON."""
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}")
    if not body.strip():
        return None
    try:
        return json.loads(body, parse_constant=_not_json)
    except ValueError as exc:  # malformed, not UTF-8/16/32, NaN, over 4,300 digits
        # (the digit limit's message ends with advice on interpreter settings: cut it)
        raise BadRequest(f"body is not valid JSON: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None


def _not_json(constant: str):
    """NaN and Infinity: Python's json reads them, but JSON (RFC 8259) has no such numbers,
    and a request's values travel on as JSON (orchestration input, ADF parameters)."""
    raise ValueError(f"{constant} is not a JSON number")
