"""Turns blobs created in watched Azurite containers into BlobCreated events delivered to
the host's own Event Grid webhook, as an Event Grid subscription would: at least once (a
delivery that fails is retried, then dead-lettered, as is a blob whose properties cannot be
read; a crash before the state is saved delivers again), and
optionally every event twice (DEVSTACK_EVENTGRID_DUPLICATE) to test idempotency.

Where the blobs come from: Azurite as devstack starts it appends a line per blob created or
replaced to its writes journal (`devstack/azurite_writes.js`; DEVSTACK_EVENTGRID_JOURNAL
names the file), as Azure Storage tells Event Grid from its write path. A poll reads the
lines after the last one it read and delivers those of watched containers, so it costs what
was written since, not what the containers hold (a listing every poll grew with every file
ever landed). What was delivered is one number, the journal offset, saved after deliveries
and after SAVE_SKIPPED_BYTES of other writes (so a restart rereads little). Blobs written
before the subscription existed (the first start) are not announced.

Unlike Azure: a blob deleted before its event went out gets none, and of a blob written
more than once between two polls only the last version is announced (size and type are read
at delivery; a change of metadata, which moves the etag but writes no line, loses nothing).
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from devstack.host.eventgrid import blob_created
from devstack.host.store import HubStore, blob_service

log = logging.getLogger(__name__)
STATE = "eventgrid/journal.json"
READ_AT_MOST = 4 * 1024 * 1024  # bytes of journal per poll
SAVE_EVERY = 50  # deliveries: a crash re-delivers at most this many
SAVE_SKIPPED_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Write:
    """One line of the journal: a blob version written, and where the next line starts."""
    container: str
    blob: str
    etag: str  # unquoted, as Event Grid sends it
    api: str
    end: int


def _write(raw: bytes, end: int) -> Write:
    doc = json.loads(raw)
    return Write(str(doc["container"]), str(doc["blob"]), str(doc["etag"]).strip('"'),
                 str(doc["api"]), end)


def read_writes(path: Path, offset: int, limit: int = READ_AT_MOST) -> tuple[list[Write], int]:
    """The whole lines of the journal from `offset` (from at most `limit` bytes) and the
    offset after the last of them. A line still being written waits for the next read; a
    line that is not a write is logged with its offset and passed over; a journal shorter
    than `offset` is a new one and is read from its start."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size < offset:
                log.warning("eventgrid watcher: %s is shorter than the %d bytes already read "
                            "(a new journal): reading it from the start", path, offset)
                offset = 0
            f.seek(offset)
            chunk = f.read(limit)
    except FileNotFoundError:
        return [], offset
    whole = chunk.rfind(b"\n") + 1
    if whole == 0 and len(chunk) == limit:  # no line ends within `limit`: not a journal line
        log.error("eventgrid watcher: %s has no line end in %d bytes from byte %d: skipped",
                  path, limit, offset)
        return [], offset + limit
    writes, at = [], offset
    for raw in chunk[:whole].split(b"\n")[:-1]:
        try:
            writes.append(_write(raw, at + len(raw) + 1))
        except (ValueError, KeyError, TypeError):
            log.error("eventgrid watcher: %s at byte %d is not a blob write, skipped: %.200r",
                      path, at, raw)
        at += len(raw) + 1
    return writes, offset + whole


def last_versions(writes: list[Write]) -> list[Write]:
    """The writes still worth announcing: of a blob written more than once, its last."""
    last = {(w.container, w.blob): w for w in writes}
    return [w for w in writes if last[(w.container, w.blob)] is w]


def journal_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class BlobWatcher:
    def __init__(self, connection_string: str, watch: dict[str, str], store: HubStore,
                 endpoint: str, schema: str, duplicate: bool, poll_seconds: float,
                 attempts: int, journal: Path):
        self.service = blob_service(connection_string)
        self.watch = watch  # container -> function name
        self.store = store
        self.endpoint = endpoint  # .../runtime/webhooks/eventgrid?code=<key>
        self.schema = schema
        self.duplicate = duplicate
        self.poll_seconds = poll_seconds
        self.attempts = attempts
        self.journal = journal
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="blob-watcher", daemon=True)
        self.delivered = 0
        self._offset = self._saved = 0
        self._http = None  # one keep-alive session: a connection (and a host thread) per
        # delivery would start and stop a thread on the host for every blob

    def subscribe(self) -> BlobWatcher:
        """Where delivery starts: the saved offset, or (a new subscription) the journal's end.
        The host subscribes before it serves, so a blob written once it answers is announced."""
        if not self.journal.exists():
            log.warning("eventgrid watcher: no writes journal at %s yet: Azurite started by "
                        "devstack writes it (devstack/azurite_writes.js)", self.journal)
        state = self.store.get_json(STATE)
        offset = state.get("offset") if isinstance(state, dict) else None
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            offset = journal_size(self.journal)  # a new subscription (or a state not ours)
            self._save(offset)
        self._offset = self._saved = offset
        return self

    def start(self) -> BlobWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops polling, after the poll under way has saved where it got to."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _save(self, offset: int) -> None:
        self.store.put_json(STATE, {"offset": offset})
        self._saved = offset

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.poll()
                except Exception:
                    log.exception("eventgrid watcher: reading %s failed", self.journal)
                self._stop.wait(self.poll_seconds)
        finally:
            if self._http is not None:  # only this thread uses it
                self._http.close()

    def poll(self) -> int:
        """Delivers the watched writes since the last poll; how many were delivered."""
        writes, end = read_writes(self.journal, self._offset)
        announce = set(last_versions(writes))
        delivered = 0
        for w in writes:
            function = self.watch.get(w.container)
            if function and w in announce:
                sent = self._deliver(w, function)
                if sent is None:  # stopped mid-delivery: the next start sends it again
                    break
                delivered += sent
                self.delivered += sent
                if sent and self.delivered % SAVE_EVERY == 0:
                    self._save(w.end)
            self._offset = w.end  # only once done: a read that fails is retried from here
        else:
            self._offset = end
        if delivered or self._offset - self._saved >= SAVE_SKIPPED_BYTES:
            self._save(self._offset)  # not after every other write: saving is one itself
        return delivered

    def _deliver(self, write: Write, function: str) -> bool | None:
        """True once sent (or dead-lettered), False when the blob is gone, None when the
        watcher was stopped before it was sent."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        blob = self.service.get_blob_client(write.container, write.blob)
        for attempt in range(1, self.attempts + 1):
            try:
                props = blob.get_blob_properties()
                break
            except ResourceNotFoundError:
                return False  # deleted since: nothing to announce
            except AzureError as exc:  # retried like a delivery, then dead-lettered, so one
                problem = exc  # blob that cannot be read does not hold up every later one
            log.warning("eventgrid watcher: reading %s/%s failed (%s), attempt %d/%d",
                        write.container, write.blob, problem, attempt, self.attempts)
            if self._stop.wait(min(0.5 * 2 ** (attempt - 1), 10)):
                return None
        else:
            log.error("eventgrid watcher: gave up on %s/%s (dead-lettered)", write.container,
                      write.blob)
            return True
        event = blob_created(self.service.account_name, write.container, write.blob, blob.url,
                             props.size, write.etag, props.content_settings.content_type,
                             props.last_modified, self.schema, write.api)
        for _ in range(2 if self.duplicate else 1):
            if not self._post(function, event):
                return None
        return True

    def _post(self, function: str, event: dict) -> bool:
        """Sends `event`, retrying; False if the watcher was stopped before it went out."""
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
                    return True
                problem = f"HTTP {r.status_code}"
            except requests.RequestException as exc:
                problem = str(exc)
            log.warning("eventgrid watcher: delivery of %s to %s failed (%s), attempt %d/%d",
                        event["subject"], function, problem, attempt, self.attempts)
            if self._stop.wait(min(0.5 * 2 ** (attempt - 1), 10)):
                return False
        log.error("eventgrid watcher: gave up on %s for %s (dead-lettered)", event["subject"],
                  function)
        return True
