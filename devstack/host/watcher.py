"""Turns new blobs in watched Azurite containers into BlobCreated events delivered to the
host's own Event Grid webhook, as an Event Grid subscription would: at least once (a
delivery that fails is retried; a crash before the state is saved delivers again), and
optionally every event twice (DEVSTACK_EVENTGRID_DUPLICATE) to test idempotency.

What was delivered is kept per container as a last-modified watermark plus the blobs seen
within a short window behind it, so the state stays small however many blobs there are;
a listing is paged (5,000 per call), and only blobs at or after the window are delivered.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from devstack.host.durable.history import iso, now_utc, parse_iso
from devstack.host.eventgrid import blob_created
from devstack.host.store import HubStore, blob_service

log = logging.getLogger(__name__)
WINDOW = timedelta(seconds=5)  # blobs committed out of order within this are still caught
SAVE_EVERY = 50


@dataclass(frozen=True)
class SeenBlob:
    name: str
    etag: str
    last_modified: datetime
    size: int
    content_type: str | None


def initial_state(now: datetime) -> dict:
    """A new subscription: blobs written before it existed are not announced."""
    return {"watermark": iso(now), "recent": {}}


def select_new(blobs, state: dict) -> list[SeenBlob]:
    """Blobs (new names, or new versions of a name) not yet delivered, oldest first."""
    floor = parse_iso(state["watermark"]) - WINDOW
    recent = state["recent"]
    fresh = [b for b in blobs if b.last_modified >= floor
             and (recent.get(b.name) or [None])[0] != b.etag]
    return sorted(fresh, key=lambda b: (b.last_modified, b.name))


def record_delivered(state: dict, blob: SeenBlob) -> dict:
    """The state after `blob` was delivered; entries older than the window are dropped."""
    watermark = max(parse_iso(state["watermark"]), blob.last_modified)
    floor = iso(watermark - WINDOW)  # iso() text sorts as time does: compare strings
    recent = {n: v for n, v in state["recent"].items() if v[1] >= floor}
    recent[blob.name] = [blob.etag, iso(blob.last_modified)]
    return {"watermark": iso(watermark), "recent": recent}


class BlobWatcher:
    def __init__(self, connection_string: str, watch: dict[str, str], store: HubStore,
                 endpoint: str, schema: str, duplicate: bool, poll_seconds: float,
                 attempts: int, page_size: int = 5000):
        self.service = blob_service(connection_string)
        self.watch = watch  # container -> function name
        self.store = store
        self.endpoint = endpoint  # .../runtime/webhooks/eventgrid?code=<key>
        self.schema = schema
        self.duplicate = duplicate
        self.poll_seconds = poll_seconds
        self.attempts = attempts
        self.page_size = page_size
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="blob-watcher", daemon=True)
        self.delivered = 0
        self._http = None  # one keep-alive session: a connection (and a host thread) per
        # delivery would start and stop a thread on the host for every blob

    def start(self) -> BlobWatcher:
        for container in self.watch:
            if self.store.get_json(self._state_name(container)) is None:
                self.store.put_json(self._state_name(container), initial_state(now_utc()))
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _state_name(self, container: str) -> str:
        return f"eventgrid/{container}.json"

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                for container, function in self.watch.items():
                    try:
                        self.poll(container, function)
                    except Exception:
                        log.exception("eventgrid watcher: polling %s failed", container)
                self._stop.wait(self.poll_seconds)
        finally:
            if self._http is not None:  # only this thread uses it
                self._http.close()

    def list_blobs(self, container: str) -> list[SeenBlob]:
        from azure.core.exceptions import ResourceNotFoundError

        client = self.service.get_container_client(container)
        try:
            return [SeenBlob(b.name, b.etag, b.last_modified, b.size,
                             b.content_settings.content_type)
                    for b in client.list_blobs(results_per_page=self.page_size)]
        except ResourceNotFoundError:
            return []  # the container does not exist yet

    def poll(self, container: str, function: str) -> int:
        state = self.store.get_json(self._state_name(container)) or initial_state(now_utc())
        new = select_new(self.list_blobs(container), state)
        client = self.service.get_container_client(container)
        for blob in new:
            event = blob_created(self.service.account_name, container, blob.name,
                                 client.get_blob_client(blob.name).url, blob.size, blob.etag,
                                 blob.content_type, blob.last_modified, self.schema)
            for _ in range(2 if self.duplicate else 1):
                self._post(function, event)
            state = record_delivered(state, blob)
            self.delivered += 1
            if self.delivered % SAVE_EVERY == 0:  # a crash re-delivers at most this many
                self.store.put_json(self._state_name(container), state)
        if new:
            self.store.put_json(self._state_name(container), state)
        return len(new)

    def _post(self, function: str, event: dict) -> None:
        import requests

        cloud = self.schema == "CloudEventSchemaV1_0"
        headers = ({"Content-Type": "application/cloudevents-batch+json; charset=utf-8"}
                   if cloud else {"Content-Type": "application/json",
                                  "aeg-event-type": "Notification"})
        url = f"{self.endpoint}&functionName={function}"
        for attempt in range(1, self.attempts + 1):
            try:
                self._http = self._http or requests.Session()
                r = self._http.post(url, data=json.dumps([event]), headers=headers, timeout=300)
                if 200 <= r.status_code < 300:
                    return
                problem = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                problem = str(exc)
            log.warning("eventgrid watcher: delivery of %s to %s failed (%s), attempt %d/%d",
                        event["subject"], function, problem, attempt, self.attempts)
            if self._stop.wait(min(0.5 * 2 ** (attempt - 1), 10)):
                return
        log.error("eventgrid watcher: gave up on %s for %s (dead-lettered)", event["subject"],
                  function)
