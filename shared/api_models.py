"""Typed payloads of the runs HTTP API and their parsing: every way in through the API is
validated here, and refused with an `AppError` naming the field."""
from __future__ import annotations

import json
from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator

from shared.errors import BadRequest, PayloadTooLarge, describe_validation_error
from shared.landing.batch import RunOverrides
from shared.landing.layout import KINDS, check_landing_name, check_prefix

MAX_RUN_REQUEST_BYTES = 1024 * 1024


class RunRequest(RunOverrides):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["train-and-score", "score"] | None = None
    files: list[str] | None = Field(None, min_length=1, max_length=10_000)
    prefix: str | None = Field(None, min_length=1)
    reason: str | None = Field(None, max_length=500)

    @field_validator("prefix")
    @classmethod
    def _prefix_in_layout(cls, v: str | None) -> str | None:
        if v is not None:
            check_prefix(v)
        return v

    @field_validator("files")
    @classmethod
    def _files_in_layout(cls, v: list[str] | None) -> list[str] | None:
        for i, name in enumerate(v or []):
            try:
                check_landing_name(name)
            except BadRequest as exc:
                raise ValueError(f"[{i}] {exc.detail}") from None
        return v

    def model_post_init(self, _) -> None:
        if self.files and self.prefix:
            raise ValueError("give either files or prefix, not both")

    def overrides(self) -> RunOverrides:
        return RunOverrides(**self.model_dump(include=set(RunOverrides.model_fields)))


def check_content_length(header: str | None, limit: int) -> None:
    """Refuse a body by its declared size, before reading it (when the size is given)."""
    if header is not None and header.strip().isascii() and header.strip().isdigit() \
            and int(header) > limit:
        raise PayloadTooLarge(f"Content-Length is {int(header)} bytes; the limit is {limit}")


def parse_json_body(body: bytes, limit: int) -> object | None:
    """The decoded JSON body (None when empty); BadRequest on malformed JSON."""
    if len(body) > limit:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is {limit}")
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None


def parse_run_request(body: bytes) -> RunRequest | None:
    """The run request in `body`, or None for an empty body (sweep now)."""
    data = parse_json_body(body, MAX_RUN_REQUEST_BYTES)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BadRequest(f"body must be a JSON object, not {type(data).__name__}")
    try:
        return RunRequest.model_validate(data)
    except ValidationError as err:
        raise BadRequest(describe_validation_error(err)) from None
    except ValueError as err:
        raise BadRequest(str(err)) from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None


def parse_limit(raw: str | None, default: int = 20, maximum: int = 200) -> int:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit: expected a whole number from 1 to {maximum}")
    return int(raw)


def parse_kind(raw: str | None) -> str | None:
    """The `kind` query parameter: one of the landing kinds, or absent."""
    if raw is None or raw == "":
        return None
    if raw not in KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(KINDS)}")
    return raw
