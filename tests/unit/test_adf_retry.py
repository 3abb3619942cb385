import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.adf.client import (
    AdfClient,
    AdfUnavailable,
    backoff_delay,
    is_loopback,
    is_transient,
)


class _Resp:
    def __init__(self, status, headers=None):
        self.status_code, self.headers, self.reason = status, headers or {}, "x"
        self.request = None

    def text(self):
        return ""


def http_error(status, headers=None):
    err = HttpResponseError(message=f"status {status}")
    err.status_code, err.response = status, _Resp(status, headers)
    return err


def test_backoff_doubles_is_capped_and_retry_after_wins():
    assert backoff_delay(1, 1.0, 30, None, jitter=0) == 1.0
    assert backoff_delay(4, 1.0, 30, None, jitter=0) == 8.0
    assert backoff_delay(10, 1.0, 30, None, jitter=0) == 30
    assert backoff_delay(1, 1.0, 30, 12.0) == 12.0
    assert backoff_delay(1, 1.0, 30, 500.0) == 30  # bounded even when asked for more


def test_what_counts_as_transient():
    assert is_transient(http_error(429)) and is_transient(http_error(503))
    assert is_transient(http_error(500)) and not is_transient(http_error(400))
    assert not is_transient(http_error(404))
    assert is_transient(ServiceRequestError("refused"))
    assert is_transient(ServiceResponseError("reset")) is True
    # for non-idempotent creates only what cannot have been processed
    assert not is_transient(ServiceResponseError("reset"), refused_only=True)
    assert not is_transient(http_error(500), refused_only=True)
    assert is_transient(http_error(429), refused_only=True)


def _client(attempts=3):
    waits = []
    return AdfClient(None, "rg", "f", attempts=attempts, backoff_seconds=1, sleep=waits.append), waits


def test_call_retries_then_succeeds():
    client, waits = _client()
    results = iter([http_error(429, {"Retry-After": "2"}), ServiceRequestError("down"), "ok"])

    def fn():
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    assert client._call("x", fn) == "ok"
    assert waits[0] == 2.0 and 2.0 <= waits[1] <= 2.2


def test_call_is_bounded_and_says_so():
    client, waits = _client(attempts=3)
    calls = []

    def fn():
        calls.append(1)
        raise http_error(503)

    with pytest.raises(AdfUnavailable, match="after 3 tries"):
        client._call("get run r1", fn)
    assert len(calls) == 3 and len(waits) == 2


def test_call_does_not_retry_client_errors():
    client, waits = _client()
    for exc in (http_error(400), ResourceNotFoundError("gone")):
        calls = []

        def fn(exc=exc, calls=calls):
            calls.append(1)
            raise exc

        with pytest.raises(type(exc)):
            client._call("x", fn)
        assert len(calls) == 1
    assert waits == []


def test_loopback_endpoints_use_the_static_token():
    assert is_loopback("https://127.0.0.1:7443") and is_loopback("https://localhost:1")
    assert not is_loopback("https://management.azure.com") and not is_loopback(None)
