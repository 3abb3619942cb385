"""Typed payloads of the runs HTTP API and their parsing: every way in through the API is
validated here, and refused with an `AppError` naming the field."""
from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from shared.errors import BadRequest, describe_validation_error
from shared.json_body import digits_exceed, parse_json_body
from shared.landing.batch import RunOverrides
from shared.landing.layout import KINDS, NameOutsideLayout, check_landing_name, check_prefix

MAX_RUN_REQUEST_BYTES = 1024 * 1024


class RunRequest(RunOverrides):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["train-and-score", "score"] | None = Field(
        None, description="default: from the files' kind (labelled: train-and-score)")
    files: list[str] | None = Field(
        None, min_length=1, max_length=10_000,
        description="landing blob names, {labelled|unlabelled}/YYYY/MM/DD/<file>; "
                    "not with prefix")
    prefix: str | None = Field(
        None, min_length=1,
        description="sweep this listing prefix of the layout ({labelled|unlabelled}/"
                    "[YYYY/[MM/[DD/...]]]) instead of the recent partitions; not with files")
    reason: str | None = Field(None, max_length=500, description="kept in the run record")
    feed: str | None = Field(
        None, max_length=64, description="the feed (FEEDS_FILE) the files or prefix must "
        "belong to; with neither, sweep only this feed's recent partitions; default: "
        "the feed of each file")

    # A name outside the layout is refused as such (NameOutsideLayout is no ValueError, so
    # pydantic lets it through), its detail naming the field and the rule. With the app's
    # feeds in the validation context (`parse_run_request`), a name is checked against the
    # layout of the feed whose landing prefix it starts with.
    @field_validator("prefix")
    @classmethod
    def _prefix_in_layout(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            feeds = (info.context or {}).get("feeds")
            feeds.check_prefix(v) if feeds else check_prefix(v)
        return v

    @field_validator("files")
    @classmethod
    def _files_in_layout(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        feeds = (info.context or {}).get("feeds")
        for i, name in enumerate(v or []):
            try:
                feeds.check_name(name) if feeds else check_landing_name(name)
            except NameOutsideLayout as exc:
                raise NameOutsideLayout(f"files[{i}]: {exc.detail}") from None
        return v

    def model_post_init(self, _) -> None:
        if self.files and self.prefix:
            raise ValueError("give either files or prefix, not both")

    def check_feed(self, feeds) -> None:
        """The named feed exists and owns the files or prefix given; BadRequest otherwise."""
        if self.feed is None:
            return
        feed = parse_feed(self.feed, feeds)
        if self.prefix and feeds.check_prefix(self.prefix)[0].name != feed:
            raise BadRequest(f"prefix: {self.prefix!r} is not in feed {feed!r}'s layout")
        for i, name in enumerate(self.files or []):
            if feeds.check_name(name)[0].name != feed:
                raise BadRequest(f"files[{i}]: {name!r} is not in feed {feed!r}'s layout")

    def overrides(self) -> RunOverrides:
        return RunOverrides(**self.model_dump(include=set(RunOverrides.model_fields)))


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true or false", type(None): "null"}


def parse_run_request(body: bytes, feeds=None) -> RunRequest | None:
    """The run request in `body`, or None for an empty body (sweep now). `feeds`: the app's
    feeds (`shared.feeds.Feeds`), which the names, prefix and feed are checked against
    (without: the default feed's layout)."""
    data = parse_json_body(body, MAX_RUN_REQUEST_BYTES)
    if data is None and not body.strip():
        return None
    if not isinstance(data, dict):  # `null` too: only no body at all means "sweep now"
        raise BadRequest(f"body must be a JSON object, not {_JSON_TYPES[type(data)]}")
    try:
        request = RunRequest.model_validate(data, context={"feeds": feeds})
        if feeds is not None:
            request.check_feed(feeds)
        return request
    except ValidationError as err:
        raise BadRequest(describe_validation_error(err)) from None
    except ValueError as err:
        raise BadRequest(str(err)) from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None


def parse_limit(raw: str | None, default: int = 20, maximum: int = 200) -> int:
    """The `limit` query parameter; absent gives `default` (`?limit=` is no number)."""
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or digits_exceed(raw, maximum) or int(raw) < 1:
        raise BadRequest(f"limit: expected a whole number from 1 to {maximum}")
    return int(raw)


def parse_alert_state(raw: str | None) -> bool:
    """The `state` query parameter of the alert list: True for `open` (the default),
    False for `all`."""
    if raw is None or raw == "open":
        return True
    if raw == "all":
        return False
    raise BadRequest("state: expected open or all")


def parse_feed(raw: str | None, feeds) -> str | None:
    """A feed's name (the `feed` query parameter or request field): one of the app's feeds,
    or absent."""
    if raw is None:
        return None
    if raw not in feeds.names:
        shown = raw if len(raw) <= 64 else raw[:64] + "..."
        raise BadRequest(f"feed: unknown feed {shown!r}; the feeds are {', '.join(feeds.names)}",
                         "unknown feed")
    return raw


def parse_kind(raw: str | None) -> str | None:
    """The `kind` query parameter: one of the landing kinds, or absent."""
    if raw is None:
        return None
    if raw not in KINDS:
        raise BadRequest(f"kind: expected one of {', '.join(KINDS)}")
    return raw
