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

import json
from datetime import UTC, datetime

from shared.settings import Settings, get_settings

RUNS, INDEX, ACTIVE = "runs/", "runs-index/", "runs-active/"
TERMINAL = frozenset({"succeeded", "failed", "timed_out", "cancelled"})
_MAX_TIME = 10**10


def _index_name(created_at: str, batch_id: str) -> str:
    ts = int(datetime.fromisoformat(created_at).timestamp())
    return f"{INDEX}{_MAX_TIME - ts:011d}-{batch_id}"


class RunRecords:
    def __init__(self, settings: Settings | None = None, state=None):
        from shared.storage import container

        s = settings or get_settings()
        self.state = state or container(s.state_container, s)

    def get(self, batch_id: str) -> dict | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return json.loads(self.state.download_blob(f"{RUNS}{batch_id}.json").readall())
        except ResourceNotFoundError:
            return None

    def update(self, batch_id: str, changes: dict, attempts: int = 20) -> dict:
        """Merge `changes` into the record (creating it), keep the indexes in step."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )

        blob = self.state.get_blob_client(f"{RUNS}{batch_id}.json")
        for _ in range(attempts):
            try:
                dl = blob.download_blob()
                record, etag = json.loads(dl.readall()), dl.properties.etag
            except ResourceNotFoundError:
                record, etag = {"batchId": batch_id,
                                "createdAt": datetime.now(UTC).isoformat()}, None
            record.update(changes)
            record["updatedAt"] = datetime.now(UTC).isoformat()
            data = json.dumps(record, default=str).encode()
            try:
                if etag is None:
                    blob.upload_blob(data, overwrite=False)
                    self.state.upload_blob(_index_name(record["createdAt"], batch_id), b"",
                                           overwrite=True)
                else:
                    blob.upload_blob(data, overwrite=True, etag=etag,
                                     match_condition=MatchConditions.IfNotModified)
            except (ResourceExistsError, ResourceModifiedError):
                continue
            self._set_active(batch_id, record.get("status") not in TERMINAL)
            return record
        raise RuntimeError(f"run record {batch_id}: too many concurrent updates")

    def _set_active(self, batch_id: str, active: bool) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        if active:
            self.state.upload_blob(ACTIVE + batch_id, b"", overwrite=True)
        else:
            try:
                self.state.delete_blob(ACTIVE + batch_id)
            except ResourceNotFoundError:
                pass

    def recent(self, limit: int = 20, kind: str | None = None,
               finished_only: bool = False) -> list[dict]:
        """Records newest first, reading only as many as needed."""
        out = []
        for marker in self.state.list_blobs(name_starts_with=INDEX, results_per_page=100):
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
        names = [b.name[len(ACTIVE):] for b in self.state.list_blobs(name_starts_with=ACTIVE)]
        return [r for r in (self.get(n) for n in names) if r is not None]
