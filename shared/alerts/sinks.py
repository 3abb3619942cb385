"""Deliver notifications to every configured sink, each independently.

Sinks come from settings: ALERT_WEBHOOK_URLS (comma list, generic JSON, signed when
ALERT_WEBHOOK_SECRET is set), ALERT_TEAMS_WEBHOOK_URL, ALERT_SLACK_WEBHOOK_URL. Each sink
gets its own thread and a time budget (ALERT_DELIVERY_BUDGET_SECONDS) for the whole
deliver() call, so a dead sink neither blocks the others nor holds the caller for long.

Per request: up to ALERT_DELIVERY_ATTEMPTS tries, exponential backoff from
ALERT_DELIVERY_BACKOFF_SECONDS; retried on connection errors, timeouts, 408, 429 and 5xx;
429/503 `Retry-After` (seconds or HTTP date) is honoured when it fits in the budget. Other
4xx are permanent. Once a sink has failed in this call, later notifications get one try.

Each notification id is claimed in storage before sending, so the same notification
(e.g. from a retried activity) is sent at most once. Per-sink health (consecutive
failures, last error, last success) is kept in storage for /api/health. Errors recorded
never include the URL: webhook URLs are secrets.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from shared.alerts import payloads
from shared.alerts.store import PREFIX, AlertStore
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


def render(sink: Sink, note: dict, settings) -> tuple[bytes, dict]:
    """Body bytes and headers for one sink."""
    headers = {"Content-Type": "application/json", payloads.NOTIFICATION_HEADER: note["id"]}
    if sink.kind == "teams":
        return payloads.encode(payloads.teams_payload(note)), headers
    if sink.kind == "slack":
        return payloads.encode(payloads.slack_payload(note)), headers
    body = payloads.encode(payloads.common_alert_payload(note, factory_target_ids(settings)))
    if settings.alert_webhook_secret:
        headers[payloads.SIGNATURE_HEADER] = payloads.sign(body, settings.alert_webhook_secret)
    return body, headers


def send(session, sink: Sink, body: bytes, headers: dict, settings, deadline: float,
         attempts: int, sleep=time.sleep, clock=time.monotonic) -> Result:
    """POST with bounded retries inside the deadline."""
    import requests

    result = Result(ok=False)
    for attempt in range(1, attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            result.error = (result.error or "no time left") + " (delivery budget exhausted)"
            break
        result.attempts = attempt
        wait = settings.alert_delivery_backoff_seconds * 2 ** (attempt - 1)
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


def _health_name(sink_id: str) -> str:
    return f"{PREFIX}sinks/{quote(sink_id, safe='')}.json"


_NO_HEALTH = {"consecutiveFailures": 0, "lastError": None, "lastErrorAt": None,
              "lastSuccessAt": None}


def _record_health(state, sink: Sink, results: list[Result]) -> None:
    """Fold this call's outcomes into the sink's health, under an etag condition so two
    concurrent deliveries never lose each other's counts."""
    if not results:
        return
    now = datetime.now(UTC).isoformat()

    def fold(rec: dict | None) -> dict:
        rec = {**_NO_HEALTH, **(rec or {})}
        for r in results:
            if r.ok:
                rec.update(consecutiveFailures=0, lastSuccessAt=now)
            else:
                rec.update(consecutiveFailures=rec["consecutiveFailures"] + 1,
                           lastError=r.error, lastErrorAt=now)
        return {**rec, "sink": sink.id, "kind": sink.kind, "target": sink.target}

    state.update(_health_name(sink.id), fold)


def _deliver_to(sink: Sink, notes: list[dict], settings, state, sleep, clock):
    import requests

    deadline = clock() + settings.alert_delivery_budget_seconds
    results: list[Result] = []
    failed = False
    with requests.Session() as session:
        for note in notes:
            body, headers = render(sink, note, settings)
            tries = 1 if failed else settings.alert_delivery_attempts
            r = send(session, sink, body, headers, settings, deadline, tries, sleep, clock)
            failed = failed or not r.ok
            results.append(r)
            if not r.ok:
                log.warning("alert sink %s failed for notification %s: %s after %d attempt(s)",
                            sink.id, note["id"], r.error, r.attempts)
    try:
        _record_health(state, sink, results)
    except Exception:  # health bookkeeping must not turn a delivery into a failure
        log.exception("could not record health of sink %s", sink.id)
    return results


def deliver(services, notifications: list[dict], *, sleep=time.sleep,
            clock=time.monotonic) -> dict:
    """Send each notification to every sink; {notification id: {sink id: outcome}}.
    Never raises for a sink failure; a notification already claimed is skipped."""
    settings = services.settings
    store = AlertStore(services.state)
    sinks = configured_sinks(settings)
    report: dict[str, dict] = {}
    if not sinks:
        return {note["id"]: {} for note in notifications}
    fresh = []
    for note in notifications:
        claim = {"notificationId": note["id"], "claimedAt": datetime.now(UTC).isoformat(),
                 "sinks": [s.id for s in sinks]}
        if store.claim(f"{PREFIX}sent/{quote(note['id'], safe='')}.json", claim):
            fresh.append(note)
            report[note["id"]] = {}
        else:
            report[note["id"]] = {"skipped": "already delivered"}
    if not fresh:
        return report
    with ThreadPoolExecutor(max_workers=len(sinks), thread_name_prefix="alert-sink") as pool:
        futures = {s.id: pool.submit(_deliver_to, s, fresh, settings, services.state, sleep, clock)
                   for s in sinks}
        for sink_id, fut in futures.items():
            try:
                outcomes = fut.result()
            except Exception as exc:  # a bug in one sink must not hide the others' outcome
                log.exception("alert sink %s crashed", sink_id)
                outcomes = [Result(ok=False, error=type(exc).__name__)] * len(fresh)
            for note, r in zip(fresh, outcomes, strict=True):
                report[note["id"]][sink_id] = "ok" if r.ok else f"failed: {r.error}"
    return report


def sink_health(services) -> dict:
    """{"ok": bool, "sinks": {id: {...}}} for /api/health; no sinks configured is ok."""
    sinks = {}
    for sink in configured_sinks(services.settings):
        rec, _ = services.state.read_json(_health_name(sink.id))
        rec = {**_NO_HEALTH, **(rec or {})}
        rec.update(sink=sink.id, kind=sink.kind, target=sink.target,
                   ok=rec["consecutiveFailures"] == 0)
        sinks[sink.id] = rec
    return {"ok": all(r["ok"] for r in sinks.values()), "configured": len(sinks), "sinks": sinks}
