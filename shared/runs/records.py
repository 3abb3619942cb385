"""Run records: one JSON blob per batch in STATE_CONTAINER, read by the HTTP API, the checks
and the freshness monitor.

    runs/<batchId>.json          the record (files, mode, instance id, ADF run ids, status,
                                 stages with timings, outputs, checks, alerts)
    runs-index/<inverted time>-<batchId>   empty markers, so listing gives newest first;
                                 metadata `kind`, `status` and `feed` (rewritten with the record),
                                 so a filtered list reads only the records it returns
    runs-active/<batchId>        present while the run is in progress (stuck-run checks)
    runs-finished/<feed>/<kind>/<inverted time>-<batchId>   empty markers of finished runs,
                                 so the checks' history (the newest finished runs of a feed
                                 and kind) is one short listing, however many runs are in
                                 progress (each of them is an entry of `runs-index/` to list
                                 past)

Listing costs one index listing call per 100 entries plus the records returned (read in
parallel), whatever the number of records kept; retention (`shared.runs.retention`) keeps
that number bounded. Every entry is checked against its record when read, so an entry that
is out of date is skipped.

The finished records read through their index are kept in memory (the newest
`_CACHED`), under their entry's etag: every write of a finished record puts its entry
again, after the record, so a record written since comes with a new etag and is read
afresh. A rerun (a failed run started again under its batch id) deletes its entry on each
write while it runs, so no copy of its old finished record is served. With many runs
ending together, each judged against the same newest finished runs, most of the history
reads are then memory reads.

Updates are read-modify-write with an etag condition, retried on conflict, so concurrent
writers (an activity that runs twice, the API) never lose each other's fields.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from datetime import UTC, datetime

from shared.pools import map_in_turn, shared_pool
from shared.settings import DEFAULT_FEED

RUNS, INDEX, ACTIVE, FINISHED = "runs/", "runs-index/", "runs-active/", "runs-finished/"
TERMINAL = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
_MAX_TIME = 10**10
_READERS = 8  # records read at once by `recent`
_CACHED = 128  # finished records kept in memory: a few feeds' and kinds' history windows


def _entry(created_at: str | datetime, batch_id: str) -> str:
    """An entry's name under its index's prefix: newest first when listed."""
    ts = int((created_at if isinstance(created_at, datetime)
              else datetime.fromisoformat(created_at)).timestamp())
    return f"{_MAX_TIME - ts:011d}-{batch_id}"


def _index_name(created_at: str, batch_id: str) -> str:
    return INDEX + _entry(created_at, batch_id)


def finished_prefix(feed: str, kind: str) -> str:
    return f"{FINISHED}{feed}/{kind}/"


def finished_name(created_at: str | datetime, batch_id: str, feed: str, kind: str) -> str:
    """The finished-runs index entry of a run (of `feed` and `kind`)."""
    return finished_prefix(feed, kind) + _entry(created_at, batch_id)


def index_entry(name: str, prefix: str = INDEX) -> tuple[datetime, str] | None:
    """(created time, batch id) of an index entry's blob name under `prefix`; None for a
    blob there that is not an entry (put there by hand): it is skipped, never a failure."""
    inverted, _, batch_id = name[len(prefix):].partition("-")
    if not (len(inverted) == 11 and inverted.isascii() and inverted.isdigit() and batch_id
            and int(inverted) <= _MAX_TIME):
        return None
    return datetime.fromtimestamp(_MAX_TIME - int(inverted), UTC), batch_id


def feed_of(record: dict) -> str:
    return record.get("feed") or DEFAULT_FEED


def _wanted(meta: dict | None, kind: str | None, finished_only: bool,
            feed: str | None = None) -> bool:
    """Whether an index entry may match; entries without metadata (older ones) may."""
    if not meta:
        return True
    if kind and meta.get("kind") and meta["kind"] != kind:
        return False
    if feed and meta.get("feed") and meta["feed"] != feed:
        return False
    return not (finished_only and meta.get("status") not in TERMINAL)


def matches(record: dict, kind: str | None = None, finished_only: bool = False,
            feed: str | None = None) -> bool:
    return ((not kind or record.get("kind") == kind)
            and (not feed or feed_of(record) == feed)
            and (not finished_only or record.get("status") in TERMINAL))


class _FinishedCache:
    """Finished records by (container, batch id, finished-index entry etag), least recently
    used out first; callers get copies."""

    def __init__(self, size: int):
        self.size, self._lock, self._items = size, threading.Lock(), OrderedDict()

    def get(self, key: tuple) -> dict | None:
        with self._lock:
            record = self._items.get(key)
            if record is not None:
                self._items.move_to_end(key)
        return copy.deepcopy(record)

    def put(self, key: tuple, record: dict) -> None:
        with self._lock:
            self._items[key] = copy.deepcopy(record)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_finished_cache = _FinishedCache(_CACHED)


class RunRecords:
    """The records in STATE_CONTAINER; `state` is a `BlobState`."""

    def __init__(self, state):
        self.state = state

    def get(self, batch_id: str) -> dict | None:
        record, _ = self.state.read_json(f"{RUNS}{batch_id}.json")
        return record

    def update(self, batch_id: str, changes: dict) -> dict:
        """Merge `changes` into the record (creating it), keep the indexes in step."""
        return self._write(batch_id, lambda record: {**record, **changes})

    def add_adf_run(self, batch_id: str, run_id: str) -> dict:
        """Append an ADF run id to the record once (idempotent for a retried activity)."""
        def add(record: dict) -> dict | None:
            ids = record.get("adfRunIds", [])
            return None if run_id in ids else {**record, "adfRunIds": [*ids, run_id]}

        return self._write(batch_id, add)

    def _write(self, batch_id: str, change) -> dict:
        def stamped(record: dict | None) -> dict | None:
            now = datetime.now(UTC).isoformat()
            new = change(record or {"batchId": batch_id, "createdAt": now})
            return None if new is None else {**new, "updatedAt": now}

        record = self.state.update(f"{RUNS}{batch_id}.json", stamped)
        # Idempotent index writes, after the record exists: a crash between the two leaves a
        # record the next update indexes, never an index entry without a record.
        self.state.put(_index_name(record["createdAt"], batch_id), b"", metadata={
            "kind": str(record.get("kind") or ""), "status": str(record.get("status") or ""),
            "feed": feed_of(record)})
        finished = finished_name(record["createdAt"], batch_id, feed_of(record),
                                 str(record["kind"])) if record.get("kind") else None
        if record.get("status") in TERMINAL:
            if finished:  # on every write, so a crash before it is made up for
                self.state.put(finished, b"")
            self.state.delete(ACTIVE + batch_id)
        else:
            if finished and record.get("rerunOf"):  # running again: not finished any more
                self.state.delete(finished)
            self.state.put(ACTIVE + batch_id, b"")
        return record

    def recent(self, limit: int = 20, kind: str | None = None,
               finished_only: bool = False, feed: str | None = None) -> list[dict]:
        """Records newest first (of one `feed`, kind, finished only). The finished runs of a
        feed and kind come from their own index; when it holds fewer than `limit` (runs
        finished before it existed are not in it) the main index is walked, and what that
        finds is entered in the finished index, so the next read finds it there."""
        if not (finished_only and kind and feed):
            # Unfiltered, every entry is one to return: a page of `limit`, not of 100, so
            # the cost stays that of the answer as the history grows past it.
            page = 100 if (kind or feed or finished_only) else min(limit, 100)
            return self._walk(INDEX, limit, kind, finished_only, feed, page=page)
        found = self._walk(finished_prefix(feed, kind), limit, kind, True, feed,
                           page=min(limit + 5, 100), cached=True)
        if len(found) >= limit:
            return found
        walked = self._walk(INDEX, limit, kind, True, feed)
        known = {r["batchId"] for r in found}
        for r in walked:
            if r.get("batchId") not in known and r.get("createdAt"):
                self.state.put(finished_name(r["createdAt"], r["batchId"], feed, kind), b"")
        return walked

    def _walk(self, prefix: str, limit: int, kind: str | None, finished_only: bool,
              feed: str | None, page: int = 100, cached: bool = False) -> list[dict]:
        """The records of an index's entries, newest first: entries filtered on their
        metadata, then only the records that may be returned are read (`cached`: finished
        ones from memory when their entry has not changed), `_READERS` at a time, and
        checked."""
        out: list[dict] = []
        candidates: list[tuple[str, str]] = []
        entries = self.state.list(prefix, results_per_page=page, include=["metadata"])

        def read(candidate: tuple[str, str]) -> dict | None:
            if not cached:
                return self.get(candidate[0])
            key = (self.state.container.url, *candidate)
            record = _finished_cache.get(key)
            if record is None:
                record = self.get(candidate[0])
                if record is not None and record.get("status") in TERMINAL:
                    _finished_cache.put(key, record)
            return record

        def matching() -> list[dict]:
            return [r for r in map_in_turn(pool, read, candidates, _READERS)
                    if r is not None and matches(r, kind, finished_only, feed)]

        pool = shared_pool("records", _READERS)
        for marker in entries:
            entry = index_entry(marker.name, prefix)
            if entry and _wanted(marker.metadata, kind, finished_only, feed):
                candidates.append((entry[1], str(marker.etag)))
            if len(candidates) >= limit - len(out):
                out += matching()
                candidates = []
                if len(out) >= limit:
                    return out[:limit]
        out += matching()
        return out[:limit]

    def active(self) -> list[dict]:
        """Records of runs in progress."""
        names = [b.name[len(ACTIVE):] for b in self.state.list(ACTIVE)]
        return [r for r in (self.get(n) for n in names) if r is not None]
