"""Retention of run state in STATE_CONTAINER: what a finished run leaves behind is deleted
once it is older than RETENTION_DAYS (the Durable instances are purged beside it, by
`starters.apply_retention`, with the Durable client's purge by time).

Per expired run: first its record, only if it is still as read (a rerun that began since
keeps the run), then its file claims (only those whose landing file no longer has the
claimed content: a claim on a file still in the landing zone is what keeps it from being
processed twice), its active marker, its finished-runs entry, then its manifest and last
its index entry. While a claim is kept, its manifest and index entry stay too: the claim
names the batch, and a request naming that file is answered from the manifest (its run, not
started again); each later pass looks at the claims again until their files are gone. The
index drives the pass, so a pass that crashes half-way leaves the entry and the next pass
finishes the job; every delete is idempotent.

Kept whatever their age: runs that are not finished (never touched), and the newest
CHECK_HISTORY_WINDOW finished runs of each feed and kind (the checks judge a run against
them; the feed's own window when its `checks` change it).
Alerts, markers, models and predictions are not run state and are not touched here.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.landing.detection import bare_etag, claim_blob, manifest_blob
from shared.runs.records import (
    ACTIVE,
    INDEX,
    RUNS,
    TERMINAL,
    RunRecords,
    feed_of,
    finished_name,
    index_entry,
)

log = logging.getLogger(__name__)


def cutoff(now: datetime, days: float) -> datetime | None:
    """Runs finished before this are expired; None when retention is off (0 days)."""
    return now - timedelta(days=days) if days > 0 else None


def expired(record: dict | None, before: datetime, protected: set[str]) -> bool:
    """A finished run, last changed before `before`, not among the protected ones."""
    if not record or record.get("status") not in TERMINAL:
        return False
    if record.get("batchId") in protected:
        return False
    changed = record.get("finishedAt") or record.get("updatedAt")
    return bool(changed) and datetime.fromisoformat(changed) < before


def _claim_still_needed(services, entry: dict) -> bool:
    props = services.landing.get_blob_client(entry["name"])
    try:
        return bare_etag(props.get_blob_properties().etag) == entry.get("etag")
    except Exception as exc:  # gone (or unreadable): only a missing file frees the claim
        from azure.core.exceptions import ResourceNotFoundError

        if isinstance(exc, ResourceNotFoundError):
            return False
        raise


def purge_state(services, now: datetime) -> dict:
    """One retention pass over the run index: {"expired", "kept", "claimsKept"}."""
    before = cutoff(now, services.settings.retention_days)
    if before is None:
        return {"expired": 0, "kept": 0, "claimsKept": 0}
    state, records = services.state, RunRecords(services.state)
    protected = {r["batchId"] for feed in services.feeds.feeds for kind in feed.kinds
                 for r in records.recent(feed.settings.check_history_window, kind=kind,
                                         finished_only=True, feed=feed.name)}
    done = kept = claims_kept = 0
    for entry in list(state.list(INDEX, include=["metadata"])):
        parsed = index_entry(entry.name)
        if parsed is None:
            continue  # not an entry of ours
        created, batch_id = parsed
        if created >= before:
            continue  # created after the cutoff: finished after it too
        record, etag = state.read_json(f"{RUNS}{batch_id}.json")
        if record is not None and not (expired(record, before, protected) and
                                       state.delete_if_unchanged(f"{RUNS}{batch_id}.json",
                                                                 etag)):
            kept += 1  # not expired, or written since it was read (a rerun began): live
            continue
        manifest, _ = state.read_json(manifest_blob(batch_id))
        claimed = 0
        for f in (manifest or {}).get("files", []):
            if _claim_still_needed(services, f):
                claimed += 1
            else:
                state.delete(claim_blob(f["name"], f["etag"]))
        state.delete(ACTIVE + batch_id)
        # Its feed and kind from the record, or (a pass that crashed after deleting it)
        # from the index entry's metadata.
        meta = record or {"feed": (entry.metadata or {}).get("feed"),
                          "kind": (entry.metadata or {}).get("kind")}
        if meta.get("kind"):
            state.delete(finished_name(created, batch_id, feed_of(meta), str(meta["kind"])))
        claims_kept += claimed
        done += record is not None or not claimed  # a later pass at kept claims is no expiry
        if claimed:
            continue  # the claims name this batch: its manifest and entry stay with them
        state.delete(manifest_blob(batch_id))
        state.delete(entry.name)  # last: a crash before this is finished by the next pass
    log.info("retention: %d runs older than %s removed, %d old runs kept, %d claims kept "
             "(their files are still in the landing zone)", done, before.isoformat(), kept,
             claims_kept)
    return {"expired": done, "kept": kept, "claimsKept": claims_kept}
