"""One Retry-After parser for the ADF client and the alert sinks."""
from datetime import UTC, datetime

from shared.retry_after import retry_after_seconds

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()


def test_seconds_and_milliseconds_headers():
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    assert retry_after_seconds({"retry-after": " 1.5 "}) == 1.5
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"x-ms-retry-after-ms": "1000", "Retry-After": "9"}) == 1.0


def test_an_http_date_counts_from_now_and_never_goes_negative():
    assert retry_after_seconds({"Retry-After": "Sat, 21 Nov 2026 12:00:10 GMT"}, now=NOW) == 10
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=NOW) == 0.0
    assert retry_after_seconds({"Retry-After": "-5"}) == 0.0


def test_nothing_asked_is_none():
    for headers in (None, {}, {"Retry-After": ""}, {"Retry-After": "soon"},
                    {"retry-after-ms": "x"}):
        assert retry_after_seconds(headers) is None
