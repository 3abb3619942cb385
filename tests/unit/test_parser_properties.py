"""Property-based tests (Hypothesis) of every way in: the landing-name rules and every HTTP
payload parser. Whatever the input, a parser either accepts it, and then what it accepted
keeps the rules, or refuses it with an `AppError` whose status is 400, 401 or 413 and whose
detail names the field or rule: never another exception (which the host would turn into a
500). Bounded: the whole file runs in seconds."""
from __future__ import annotations

import json
import string
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.alerts import intake
from shared.api_models import (
    MAX_RUN_REQUEST_BYTES,
    RunRequest,
    parse_kind,
    parse_limit,
    parse_run_request,
)
from shared.errors import AppError, BadRequest, PayloadTooLarge, Unauthorized
from shared.json_body import check_content_length
from shared.landing.batch import check_batch_id
from shared.landing.layout import (
    KINDS,
    MAX_NAME_LENGTH,
    NameOutsideLayout,
    check_landing_name,
    check_prefix,
    kind_of,
)

BOUNDED = settings(max_examples=300, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
DIGITS = set(string.digits)

# --- an independent statement of the landing rules (the oracle) ---------------------------


def control(ch: str) -> bool:
    return ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F


def ascii_digits(text: str, n: int) -> bool:
    return len(text) == n and set(text) <= DIGITS


def unsafe_rule(text: str, inner: list[str]) -> str | None:
    """The safety rules shared by names and prefixes, in the order they are checked."""
    if "\\" in text:
        return "backslash"
    if any(control(c) for c in text):
        return "control character"
    if any(s in ("", ".", "..") for s in inner):
        return "segment"
    return None


def broken_name_rule(name: str) -> str | None:
    """The words of the rule `name` breaks (checked in this order), or None if it is in
    the layout."""
    if not name:
        return "non-empty"
    if len(name) > MAX_NAME_LENGTH:
        return "characters"
    segments = name.split("/")
    if unsafe := unsafe_rule(name, segments):
        return unsafe
    if (len(segments) < 5 or segments[0] not in KINDS or not ascii_digits(segments[1], 4)
            or not ascii_digits(segments[2], 2) or not ascii_digits(segments[3], 2)):
        return "expected {labelled|unlabelled}/YYYY/MM/DD/<file>"
    try:
        date(int(segments[1]), int(segments[2]), int(segments[3]))
    except ValueError:
        return "is not a date"
    return None


def broken_prefix_rule(prefix: str) -> str | None:
    if not prefix or len(prefix) > MAX_NAME_LENGTH:
        return "characters"
    segments = prefix.split("/")
    if unsafe := unsafe_rule(prefix, segments[:-1]):  # it may end with "/"
        return unsafe
    # kind/ then whole YYYY/, MM/, DD/ segments, then anything below a day.
    shape = [lambda s: s in KINDS, lambda s: ascii_digits(s, 4), lambda s: ascii_digits(s, 2),
             lambda s: ascii_digits(s, 2)]
    for i, ok in enumerate(shape):
        if len(segments) == i + 1:  # the last piece must be empty: the prefix ends with "/"
            return None if segments[i] == "" and i > 0 else "expected"
        if not ok(segments[i]):
            return "expected"
    return None


# --- strategies: near the layout, across its edges, and anything at all -------------------

ODD_SEGMENTS = ["", ".", "..", "...", "a.csv", "x", "\\", "a\\b.csv", "a\x00", "\x85",
                "\u2028", "é.csv", "٣", "%2e%2e", " ..", "a/b"]
segment = st.one_of(st.sampled_from(ODD_SEGMENTS), st.text(max_size=8))
kind = st.one_of(st.sampled_from([*KINDS, "Labelled", "other", "", "labelled "]),
                 st.text(max_size=10))
year = st.one_of(st.integers(0, 9999).map("{:04d}".format),
                 st.sampled_from(["٢٠٢٤", "２０２４", "024", "20245", "20a4", "+202"]),
                 st.text(max_size=5))
two = st.one_of(st.integers(0, 39).map("{:02d}".format),
                st.sampled_from(["1", "001", "١٢", "0x", "-1"]), st.text(max_size=3))
near_layout = st.builds(lambda k, y, m, d, rest: "/".join([k, y, m, d, *rest]),
                        kind, year, two, two, st.lists(segment, max_size=4))
safe_char = st.characters(blacklist_categories=["Cs"],
                          blacklist_characters="/\\" + "".join(map(chr, range(0x20)))
                          + "".join(map(chr, range(0x7F, 0xA0))))
safe_segment = st.text(safe_char, min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
in_layout = st.builds(
    lambda k, d, rest: f"{k}/{d.year:04d}/{d.month:02d}/{d.day:02d}/{'/'.join(rest)}",
    st.sampled_from(KINDS), st.dates(min_value=date(1, 1, 1)),
    st.lists(safe_segment, min_size=1, max_size=4))
long_names = st.builds(lambda base, n: base + "a" * n, in_layout,
                       st.integers(MAX_NAME_LENGTH - 60, MAX_NAME_LENGTH + 20))
names = st.one_of(near_layout, in_layout, long_names, st.text())
prefixes = st.one_of(
    st.builds(lambda parts, end: "/".join(parts) + end,
              st.lists(st.one_of(kind, year, two, segment), min_size=1, max_size=6),
              st.sampled_from(["", "/"])),
    in_layout, st.text())


def names_the_rule(exc: AppError, rule: str) -> bool:
    return rule in exc.detail


@BOUNDED
@given(names)
def test_landing_name_checks_agree_with_the_rules(name):
    rule = broken_name_rule(name)
    if rule is None:
        kind_ = check_landing_name(name)
        assert kind_ == name.split("/")[0] == kind_of(name)
        # A name in the layout is also a listing prefix in it, and so is its partition.
        assert check_prefix(name) == name
        assert check_prefix("/".join(name.split("/")[:4]) + "/")
        assert len(name) <= MAX_NAME_LENGTH and "\\" not in name and ".." not in name.split("/")
    else:
        with pytest.raises(NameOutsideLayout) as refused:
            check_landing_name(name)
        assert refused.value.status == 400 and isinstance(refused.value, BadRequest)
        assert names_the_rule(refused.value, rule), (name, refused.value.detail)
        assert kind_of(name) is None


@BOUNDED
@given(in_layout)
def test_every_well_formed_name_is_accepted(name):
    if len(name) <= MAX_NAME_LENGTH:
        assert check_landing_name(name) in KINDS


@BOUNDED
@given(prefixes)
def test_prefix_check_agrees_with_the_rules(prefix):
    rule = broken_prefix_rule(prefix)
    if rule is None:
        assert check_prefix(prefix) == prefix
    else:
        with pytest.raises(NameOutsideLayout) as refused:
            check_prefix(prefix)
        assert refused.value.status == 400 and names_the_rule(refused.value, rule), (
            prefix, refused.value.detail)


# --- the runs API payloads ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)
run_fields = {
    "mode": st.sampled_from(["train-and-score", "score", "fast", ""]) | json_values,
    "files": st.lists(names, max_size=3) | json_values,
    "prefix": prefixes | json_values,
    "reason": st.text(max_size=20) | st.just("r" * 501) | json_values,
    "trainOptions": json_values,
    "timeoutSeconds": st.floats() | st.integers(-10, 10**7) | json_values,
    "maxReruns": st.integers(-3, 20) | json_values,
}
run_requests = st.builds(
    lambda fields, extra: {**fields, **extra},
    st.fixed_dictionaries({}, optional=run_fields),
    st.dictionaries(st.text(max_size=8), json_values, max_size=2))
HOSTILE = [b"NaN", b'{"timeoutSeconds": NaN}', b'{"trainOptions": {"a": -Infinity}}',
           b"[" * 100_000, b'{"a":' * 50_000, b'{"maxReruns": ' + b"9" * 5000 + b"}",
           b"9" * 5000, b"\xef\xbb\xbf{}", "{}".encode("utf-16"), b"\xff\xfe\x00",
           b'{"reason": "\\ud800"}', b" " * (MAX_RUN_REQUEST_BYTES + 1),
           b'{"files": ["labelled/2024/01/01/../../../../other-container/x.csv"]}',
           b'{"files": ["labelled/2024/01/01/x/../a.csv"], "prefix": "labelled/"}']
bodies = st.one_of(
    run_requests.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64), st.sampled_from(HOSTILE),
    st.builds(lambda d, enc: json.dumps(d).encode(enc), run_requests,
              st.sampled_from(["utf-16", "utf-32", "utf-8"])))


@BOUNDED
@given(bodies)
@example(b"null")  # found here: a JSON null was taken for "no body" (a sweep)
@example(b'{"maxReruns": ' + b"9" * 5000 + b"}")  # found here: a ValueError, so a 500
@example(b'{"trainOptions": {"a": NaN}}')
@example(b"[" * 100_000)
def test_run_request_parser_accepts_within_the_rules_or_refuses_naming_the_field(body):
    try:
        request = parse_run_request(body)
    except AppError as exc:
        assert exc.status in (400, 413), exc
        if isinstance(exc, PayloadTooLarge):
            assert "limit" in exc.detail and len(body) > MAX_RUN_REQUEST_BYTES
            return
        try:  # strict JSON (RFC 8259): no NaN or Infinity
            data = json.loads(body, parse_constant=lambda c: float("x"))
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and data:
            # (an empty key is named as the body: `body: Extra inputs are not permitted`)
            named = [k for k in data if (k in exc.detail if k else exc.detail.startswith("body"))]
            assert named, (data, exc.detail)
        else:
            assert "body" in exc.detail, exc.detail
        return
    if request is None:
        assert not body.strip()
        return
    assert isinstance(request, RunRequest)
    assert not (request.files and request.prefix)
    for name in request.files or []:
        assert broken_name_rule(name) is None
    if request.prefix is not None:
        assert broken_prefix_rule(request.prefix) is None
    assert request.mode in (None, "train-and-score", "score")
    assert request.reason is None or len(request.reason) <= 500


query_values = st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 500).map(str),
                         st.integers(0, 5000).map(lambda n: "9" * n),
                         st.sampled_from(["", "0", "00", "007", "١٢", "²", " 5", "5 ", "+5"]))


@BOUNDED
@given(query_values)
@example("9" * 5000)  # found here: int() refuses over 4,300 digits, a 500
def test_limit_is_a_whole_number_in_range_or_refused_naming_limit(raw):
    try:
        value = parse_limit(raw)
    except AppError as exc:
        assert isinstance(exc, BadRequest) and "limit" in exc.detail
        assert raw is not None
        assert not (raw.isascii() and raw.isdigit() and 1 <= Decimal(raw) <= 200)
        return
    assert value == 20 if raw is None else 1 <= value <= 200 and value == Decimal(raw)


@BOUNDED
@given(st.one_of(query_values, st.sampled_from([*KINDS, "Labelled", "labelled "])))
def test_kind_is_a_landing_kind_or_refused_naming_kind(raw):
    try:
        value = parse_kind(raw)
    except AppError as exc:
        assert isinstance(exc, BadRequest) and "kind" in exc.detail and raw not in KINDS
        return
    assert value == raw and (value is None or value in KINDS)


@BOUNDED
@given(query_values, st.sampled_from([0, 1, 200, MAX_RUN_REQUEST_BYTES, intake.MAX_BODY_BYTES]))
@example("9" * 5000, MAX_RUN_REQUEST_BYTES)  # found here: the same ValueError
def test_content_length_over_the_limit_is_refused_naming_the_header(header, limit):
    value = (header or "").strip()
    too_big = value.isascii() and value.isdigit() and Decimal(value) > limit
    try:
        check_content_length(header, limit)
    except AppError as exc:
        assert isinstance(exc, PayloadTooLarge) and exc.status == 413
        assert "Content-Length" in exc.detail and str(limit) in exc.detail and too_big
        return
    assert not too_big


HEX = "0123456789abcdef"
batch_ids = st.one_of(
    st.builds(lambda k, h: f"{k}-{h}", st.sampled_from([*KINDS, "Labelled"]),
              st.text(HEX + "G", min_size=19, max_size=21)),
    st.builds(lambda k, h, a, t: f"{k}-{h}-{a}-{t}", st.sampled_from(KINDS),
              st.text(HEX, min_size=20, max_size=20), st.sampled_from(["retrain", "score", "x"]),
              st.text(HEX, min_size=11, max_size=13)),
    st.text(max_size=40), st.none(), st.integers())


def well_formed_batch_id(value) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("-")
    hexes = lambda s, n: len(s) == n and set(s) <= set(HEX)  # noqa: E731
    base = len(parts) >= 2 and parts[0] in KINDS and hexes(parts[1], 20)
    return base and (len(parts) == 2 or (len(parts) == 4 and parts[2] in ("retrain", "score")
                                         and hexes(parts[3], 12)))


@BOUNDED
@given(batch_ids)
def test_batch_id_in_a_route_is_well_formed_or_refused_naming_id(value):
    try:
        assert check_batch_id(value) == value and well_formed_batch_id(value)
    except AppError as exc:
        assert isinstance(exc, BadRequest) and exc.detail.startswith("id:")
        assert not well_formed_batch_id(value)


# --- the alert intake (shared.alerts.intake.parse) ------------------------------------------

essentials = st.fixed_dictionaries({}, optional={
    "alertId": st.text(max_size=10) | json_values, "alertRule": st.text(max_size=10),
    "severity": st.sampled_from(["Sev0", "Sev4", "Sev5", "sev1"]) | json_values,
    "signalType": st.text(max_size=6), "monitorCondition": st.sampled_from(
        ["Fired", "Resolved", "fired"]) | json_values,
    "firedDateTime": st.datetimes().map(lambda d: d.isoformat()) | st.text(max_size=12)
    | json_values,
    "alertTargetIDs": st.lists(st.text(max_size=10), max_size=2) | json_values,
})
alerts = st.fixed_dictionaries({}, optional={
    "schemaId": st.sampled_from(["azureMonitorCommonAlertSchema", "other"]) | json_values,
    "data": st.fixed_dictionaries({}, optional={"essentials": essentials,
                                                "alertContext": json_values}) | json_values,
})
alert_bodies = st.one_of(
    alerts.map(lambda d: json.dumps(d).encode()), json_values.map(lambda v: json.dumps(v)),
    st.binary(max_size=64),
    st.sampled_from([b"9" * 5000, b"\xff", b"{" * 10, b" " * (intake.MAX_BODY_BYTES + 1)]))
configured = st.one_of(st.none(), st.just(""), st.text(max_size=6).map("S3cr3t-{}".format))
sent = st.one_of(configured, st.sampled_from(["S3cr3t-", "é"]), st.text(max_size=6))


@BOUNDED
@given(alert_bodies, sent, configured)
def test_alert_intake_accepts_or_refuses_with_400_401_413_naming_the_field(body, given_, expected):
    raw = body.encode() if isinstance(body, str) else body
    try:
        alert = intake.parse(body, given_, expected)
    except AppError as exc:
        assert exc.status in (400, 401, 413), exc
        if exc.status == 413:
            assert len(raw) > intake.MAX_BODY_BYTES and "limit" in exc.detail
        elif exc.status == 401:
            assert isinstance(exc, Unauthorized) and expected and given_ != expected
            assert "secret" in exc.detail and "S3cr3t" not in exc.detail  # never echoed
        else:
            field = exc.detail.split(":", 1)[0]
            assert field == "body" or field.split(".")[0] in ("schemaId", "data"), exc.detail
        return
    assert len(raw) <= intake.MAX_BODY_BYTES and (not expected or given_ == expected)
    assert alert.schemaId == "azureMonitorCommonAlertSchema"
    assert alert.data.essentials.monitorCondition in ("Fired", "Resolved")


def test_alert_intake_refuses_deeply_nested_json_as_a_400():
    with pytest.raises(BadRequest) as e:
        intake.parse(b"[" * 100_000)
    assert "nested too deeply" in e.value.detail
