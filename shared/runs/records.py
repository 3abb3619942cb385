"""Run records: one JSON blob per batch in STATE_CONTAINER, read by the HTTP API, the checks
and the freshness monitor.

    runs/<batchId>.json          the record (files, mode, instance id, ADF run ids, status,
                                 stages with timings, outputs, checks, alerts)
    runs-index/<inverted time>-<batchId>   empty markers, so listing gives newest first
    runs-active/<batchId>        present while the run is in progress (stuck-run checks)

Updates are read-modify-write with an etag condition, retried on conflict, so concurrent
writers (an activity that runs twice, the API) never lose each other's fields.
"""
from __future__ import annotations

from datetime import UTC, datetime

RUNS, INDEX, ACTIVE = "runs/", "runs-index/", "runs-active/"
TERMINAL = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
_MAX_TIME = 10**10


def _index_name(created_at: str, batch_id: str) -> str:
    ts = int(datetime.fromisoformat(created_at).timestamp())
    return f"{INDEX}{_MAX_TIME - ts:011d}-{batch_id}"


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
        self.state.put(_index_name(record["createdAt"], batch_id), b"")
        if record.get("status") in TERMINAL:
            self.state.delete(ACTIVE + batch_id)
        else:
            self.state.put(ACTIVE + batch_id, b"")
        return record

    def recent(self, limit: int = 20, kind: str | None = None,
               finished_only: bool = False) -> list[dict]:
        """Records newest first, reading only as many as needed."""
        out = []
        for marker in self.state.list(INDEX, results_per_page=100):
            batch_id = marker.name[len(INDEX) + 12:]  # after "<11 digits>-"
            record = self.get(batch_id)
            if record is None:
                continue
            if kind and record.get("kind") != kind:
                continue
            if finished_only and record.get("status") not in TERMINAL:
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def active(self) -> list[dict]:
        """Records of runs in progress."""
        names = [b.name[len(ACTIVE):] for b in self.state.list(ACTIVE)]
        return [r for r in (self.get(n) for n in names) if r is not None]
