"""The sinks and the transport to them: which are configured, what each receives, one
bounded POST with retries. Delivery state and health are `shared.alerts.outbox`'s.

Sinks come from settings: ALERT_WEBHOOK_URLS (comma list, generic JSON, signed when
ALERT_WEBHOOK_SECRET and/or ALERT_WEBHOOK_SECRET_NEXT is set), ALERT_TEAMS_WEBHOOK_URL,
ALERT_SLACK_WEBHOOK_URL.

Per request: up to the given number of tries, exponential backoff from
ALERT_DELIVERY_BACKOFF_SECONDS; retried on connection errors, timeouts, 408, 429 and 5xx;
429/503 `Retry-After` (seconds or HTTP date) is honoured when it fits in the deadline.
Other 4xx end the request (a later delivery pass may try again). Each try is signed anew,
so its timestamp is the time it is sent. Errors never include the URL: webhook URLs are
secrets.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from shared.alerts import payloads
from shared.retry_after import retry_after_seconds

log = logging.getLogger(__name__)

RETRYABLE = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Sink:
    id: str  # webhook-1, webhook-2, teams, slack
    kind: str  # webhook | teams | slack
    url: str = field(repr=False)

    @property
    def target(self) -> str:
        """scheme://host only: the rest of a webhook URL is a secret."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}"


@dataclass
class Result:
    ok: bool
    attempts: int = 0
    status: int | None = None
    error: str | None = None


def configured_sinks(settings) -> list[Sink]:
    sinks = [Sink(f"webhook-{i}", "webhook", url.strip())
             for i, url in enumerate((settings.alert_webhook_urls or "").split(","), 1)
             if url.strip()]
    if settings.alert_teams_webhook_url:
        sinks.append(Sink("teams", "teams", settings.alert_teams_webhook_url.strip()))
    if settings.alert_slack_webhook_url:
        sinks.append(Sink("slack", "slack", settings.alert_slack_webhook_url.strip()))
    return sinks


def factory_target_ids(settings) -> list[str]:
    return [f"/subscriptions/{settings.adf_subscription_id}/resourceGroups/"
            f"{settings.adf_resource_group}/providers/Microsoft.DataFactory/factories/"
            f"{settings.adf_factory_name}"]


def webhook_secrets(settings) -> list[str]:
    return [x for x in (settings.alert_webhook_secret, settings.alert_webhook_secret_next) if x]


def render(sink: Sink, note: dict, settings, timestamp: int) -> tuple[bytes, dict]:
    """Body bytes and headers for one sink, signed (generic webhooks) as sent at `timestamp`
    (unix seconds)."""
    headers = {"Content-Type": "application/json", payloads.NOTIFICATION_HEADER: note["id"]}
    if sink.kind == "teams":
        return payloads.encode(payloads.teams_payload(note)), headers
    if sink.kind == "slack":
        return payloads.encode(payloads.slack_payload(note)), headers
    body = payloads.encode(payloads.common_alert_payload(note, factory_target_ids(settings)))
    secrets = webhook_secrets(settings)
    if secrets:
        headers[payloads.SIGNATURE_HEADER] = payloads.sign(body, secrets, timestamp)
    return body, headers


def send(session, sink: Sink, prepare: Callable[[], tuple[bytes, dict]], settings,
         deadline: float, attempts: int, sleep=time.sleep, clock=time.monotonic) -> Result:
    """POST what `prepare()` makes (called per try) with bounded retries inside the deadline."""
    import requests

    result = Result(ok=False)
    for attempt in range(1, attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            result.error = (result.error or "no time left") + " (delivery budget exhausted)"
            break
        result.attempts = attempt
        wait = settings.alert_delivery_backoff_seconds * 2 ** (attempt - 1)
        body, headers = prepare()
        try:
            resp = session.post(sink.url, data=body, headers=headers,
                                timeout=min(settings.alert_delivery_timeout_seconds, remaining))
            result.status = resp.status_code
            if 200 <= resp.status_code < 300:
                result.ok, result.error = True, None
                return result
            result.error = f"HTTP {resp.status_code}"
            if resp.status_code not in RETRYABLE:
                return result
            hinted = retry_after_seconds(resp.headers)
            if hinted is not None and resp.status_code in (429, 503):
                wait = hinted
        except requests.RequestException as exc:  # connection refused, timeout, TLS ...
            result.status, result.error = None, type(exc).__name__
        if attempt == attempts:
            break
        if clock() + wait > deadline:
            result.error += f" (next retry in {wait:g} s is past the delivery budget)"
            break
        sleep(wait)
    return result
