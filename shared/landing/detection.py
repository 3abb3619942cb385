"""Landing-zone detection: find new, settled files and claim each exactly once.

A claim is a marker blob `claims/<landing blob name>@<etag>` in STATE_CONTAINER: one per
content version of a file, so a file overwritten with new content is new data and gets
claimed (and processed) again; its manifest entry names the batch that saw the earlier
content (`previousBatchId`). Claims are created with `If-None-Match: *`, so of several
detectors racing (the hourly sweep, event sealers, the HTTP API) exactly one wins each
file. The claim's state lives in blob metadata, so one list call per partition tells which
files are taken. Sealing a batch goes through these writes, in this order:

1. each file's claim is created `claiming` (owner, time): the file is reserved;
2. the batch id is computed from the files won, and each claim is bound to it: `sealing`
   with the batch id, If-Match on the claim as this detector wrote it (a claim taken over
   in between is dropped and the id recomputed), all before the manifest exists;
3. the manifest, then the `pending/<batch>` marker (the sweep starts any batch still
   pending after PENDING_RESTART_SECONDS, so no sealed batch is left without a run);
4. each claim becomes `claimed`.

A detector that stops anywhere leaves claims older than CLAIM_TIMEOUT_SECONDS that are
not `claimed`. Another detector takes such a claim over (If-Match, so one wins):
- `claiming`, or `sealing` for a batch whose manifest does not exist: no manifest names
  the file, so it is claimed afresh;
- `sealing` for a batch whose manifest exists: that batch is resumed (pending marker,
  claims finalised), never sealed again.
A detector cannot be slower than its function's timeout, and `shared.services` refuses a
CLAIM_TIMEOUT_SECONDS not longer than host.json's `functionTimeout`, so a claim is only
taken over from a detector that is gone. Files are never lost and nothing in the landing
zone is touched, let alone deleted. Cost: two list calls per partition scanned (landing +
claims) plus writes for new files only.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.errors import NotFound
from shared.landing.batch import Batch
from shared.landing.layout import (
    LandingFile,
    batch_id,
    chunk,
    is_temporary,
    ready,
    recent_prefixes,
)
from shared.markers import newest_data, raise_marker
from shared.telemetry import run_context

log = logging.getLogger(__name__)

CLAIMS = "claims/"
MANIFESTS = "manifests/"
# A sealed batch whose run has not started yet; removed when its run starts.
PENDING = "pending/"


def manifest_blob(batch: str) -> str:
    return f"{MANIFESTS}{batch}.json"


def claim_blob(name: str, etag: str) -> str:
    return f"{CLAIMS}{name}@{etag}"


def _claim_key(claim_name: str) -> tuple[str, str]:
    """(landing name, etag) of a claim blob name."""
    name, _, etag = claim_name[len(CLAIMS):].rpartition("@")
    return name, etag


@dataclass
class Detection:
    """What one detection pass did: the batches it claimed, and what it left and why."""

    batches: list[Batch] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # not yet quiet: try again later
    already_claimed: dict[str, str] = field(default_factory=dict)  # name -> batch id


@dataclass
class _Won:
    """A file this detector holds, with the claim's etag as it last wrote it."""

    file: LandingFile
    etag: str
    previous_batch: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def bare_etag(etag: str) -> str:
    """The form claims and manifests hold: listing gives bare etags, get-properties quoted
    ones, and ids must not depend on which read found the file."""
    return etag.strip('"')


def _listed(blob) -> LandingFile:
    return LandingFile(blob.name, blob.size, bare_etag(blob.etag), blob.last_modified)


class Detector:
    """Detects and claims landing files; one instance per pass (or reuse it, it is stateless).
    `services`: settings, the feeds (`shared.feeds.Feeds`: which feed and kind a landing
    name is), the landing container (read only) and the state (`BlobState`).

    A batch holds files of one feed and kind; its id and its newest-data marker carry the
    feed's tag (nothing for the default feed, so its ids are today's)."""

    def __init__(self, services):
        self.s = services.settings
        self.feeds = services.feeds
        self.landing = services.landing
        self.state = services.state
        self.owner = uuid.uuid4().hex

    def recent_prefixes(self, now: datetime, feed=None, kinds=None) -> list[str]:
        """The partitions a sweep scans: every feed's (or one feed's) kinds, recent days."""
        return [p for f in ([feed] if feed else self.feeds.feeds)
                for p in recent_prefixes(now, self.s.landing_lookback_days,
                                         kinds=kinds or tuple(f.kinds), prefix=f.landing_prefix)]

    # --- reading ----------------------------------------------------------------------
    def _claims_under(self, prefix: str) -> dict[tuple[str, str], object]:
        """(name, etag) -> claim blob, for every claim under a landing prefix."""
        return {_claim_key(b.name): b for b in
                self.state.list(CLAIMS + prefix, include=["metadata"])}

    def _landing_under(self, prefix: str) -> list[LandingFile]:
        return [_listed(b) for b in self.landing.list_blobs(name_starts_with=prefix)]

    def _is_abandoned(self, claim, now: datetime) -> bool:
        md = claim.metadata or {}
        if md.get("state") == "claimed":
            return False
        age = (now - datetime.fromisoformat(md["claimedat"])).total_seconds()
        return age > self.s.claim_timeout_seconds

    @staticmethod
    def _previous_batch(claims: dict, name: str) -> str | None:
        """The batch that saw earlier content of `name`, if any (newest claim wins)."""
        earlier = [c for (n, _), c in claims.items() if n == name]
        earlier.sort(key=lambda c: (c.metadata or {}).get("claimedat", ""))
        return next(((c.metadata or {}).get("batchid") for c in reversed(earlier)
                     if (c.metadata or {}).get("batchid")), None)

    # --- claiming ---------------------------------------------------------------------
    def _metadata(self, state: str, f: LandingFile, now: datetime, **more) -> dict:
        return {"state": state, "owner": self.owner, "claimedat": now.isoformat(),
                "etag": f.etag, **more}

    def _reserve(self, f: LandingFile, stale_claim, now: datetime) -> str | None:
        """Step 1: reserve one file; the claim's new etag when this detector won it."""
        name = claim_blob(f.name, f.etag)
        md = self._metadata("claiming", f, now)
        if stale_claim is None:
            return self.state.create(name, b"", metadata=md)
        etag = self.state.replace(name, b"", stale_claim.etag, metadata=md)
        if etag:
            log.warning("took over abandoned claim on %s", f.name)
        return etag

    def _resume(self, claim, now: datetime, det: Detection) -> bool:
        """A stale `sealing` claim whose batch has a manifest: finish sealing that batch
        (the pending marker, every claim finalised). False when the
        batch has no manifest: nothing names the file, so it may be claimed afresh."""
        bid = (claim.metadata or {}).get("batchid")
        if not bid:
            return False
        manifest, _ = self.state.read_json(manifest_blob(bid))
        if manifest is None:
            return False
        batch = Batch.model_validate(manifest)
        # Pending again, in case it stopped before writing the marker; the sweep's rescue
        # drops the marker of a batch whose run already exists.
        self.state.create(PENDING + bid, b"", metadata={"sealedat": now.isoformat()})
        for entry in batch.files:
            self._finalise(claim_blob(entry.name, entry.etag), bid, now)
        with run_context(batchId=bid, instanceId=bid):
            log.warning("resumed batch %s, left half-sealed by another detector", bid)
        for entry in batch.files:
            det.already_claimed[entry.name] = bid
        return True

    def _finalise(self, name: str, bid: str, now: datetime) -> None:
        """Step 4: the claim is `claimed` for its batch (idempotent)."""
        props = self.state.properties(name)
        md = dict((props.metadata if props else None) or {})
        if md.get("state") == "claimed":
            return
        md.update(state="claimed", batchid=bid, claimedat=now.isoformat())
        self.state.set_metadata(name, md)

    def _bind(self, feed, kind: str, won: list[_Won], now: datetime) -> tuple[str, list[_Won]]:
        """Step 2: bind each claim to the batch of the files still held, before its
        manifest exists. A claim lost in between is dropped and the id recomputed."""
        while True:
            bid = batch_id(kind, [w.file for w in won], feed.tag)
            kept = []
            for w in won:
                md = self._metadata("sealing", w.file, now, batchid=bid)
                etag = self.state.replace(claim_blob(w.file.name, w.file.etag), b"",
                                                 w.etag, metadata=md)
                if etag:
                    kept.append(_Won(w.file, etag, w.previous_batch))
            if len(kept) == len(won):
                return bid, kept
            won = kept  # lost some: their batch is not ours to seal
            if not won:
                return "", []

    def _seal(self, feed, kind: str, won: list[_Won], now: datetime, reason: str,
              mode: str | None) -> Batch | None:
        bid, won = self._bind(feed, kind, won, now)
        if not won:
            return None
        files = [{**w.file.as_manifest_entry(),
                  **({"previousBatchId": w.previous_batch} if w.previous_batch else {})}
                 for w in won]
        batch = Batch(batchId=bid, feed=feed.name, kind=kind, mode=mode or feed.kinds[kind],
                      manifestPath=f"{self.s.state_container}/{manifest_blob(bid)}",
                      files=files, reason=reason)
        manifest = {**batch.to_json(), "container": self.s.landing_container,
                    "createdAt": now.isoformat()}
        self.state.put(manifest_blob(bid), json.dumps(manifest, indent=1).encode())
        self.state.put(PENDING + bid, b"", metadata={"sealedat": now.isoformat()})
        for w in won:
            self._finalise(claim_blob(w.file.name, w.file.etag), bid, now)
        raise_marker(self.state, newest_data(kind, feed.tag), max(w.file.last_modified for w in won))
        again = [w.file.name for w in won if w.previous_batch]
        with run_context(batchId=bid, instanceId=bid):  # a batch's run has its id
            log.info("sealed batch %s: %d %s %s files (%s)%s", bid, len(won), feed.name, kind, reason,
                     f"; new content of {len(again)} processed before" if again else "")
        return batch

    def _claim_and_seal(self, candidates: dict[str, tuple[LandingFile, object, str | None]],
                        now: datetime, reason: str, det: Detection, mode: str | None = None):
        won: dict[tuple[str, str], list[_Won]] = {}
        for name, (f, stale, previous) in sorted(candidates.items()):
            etag = self._reserve(f, stale, now)
            if etag:
                feed, kind = self.feeds.for_blob(name)
                won.setdefault((feed.name, kind), []).append(_Won(f, etag, previous))
        for (feed_name, kind), files in sorted(won.items()):
            for part in chunk(files, self.s.max_batch_files, key=lambda w: w.file.name):
                batch = self._seal(self.feeds[feed_name], kind, part, now, reason, mode)
                if batch is not None:
                    det.batches.append(batch)

    def _consider(self, f: LandingFile, claim, claims: dict, now: datetime,
                  det: Detection) -> tuple | None:
        """What to do with one landing file: None (taken, or resumed), or a candidate."""
        if claim is not None:
            md = claim.metadata or {}
            if not self._is_abandoned(claim, now):
                det.already_claimed[f.name] = md.get("batchid", "")
                return None
            if md.get("state") == "sealing" and self._resume(claim, now, det):
                return None
        return (f, claim, self._previous_batch(claims, f.name))

    # --- the two ways in ----------------------------------------------------------------
    def sweep(self, now: datetime | None = None, prefixes: list[str] | None = None,
              reason: str = "sweep", mode: str | None = None) -> Detection:
        """Claim every ready, unclaimed file in the recent partitions (or `prefixes`)."""
        now = now or _now()
        det = Detection()
        for prefix in prefixes or self.recent_prefixes(now):
            claims = self._claims_under(prefix)
            candidates = {}
            for f in self._landing_under(prefix):
                if self.feeds.for_blob(f.name) is None:
                    continue
                claim = claims.get((f.name, f.etag))
                if claim is None and not ready(f, now, self.s.landing_quiet_seconds):
                    if f.size > 0 and not is_temporary(f.name):
                        det.unsettled.append(f.name)
                    continue
                candidate = self._consider(f, claim, claims, now, det)
                if candidate:
                    candidates[f.name] = candidate
            self._claim_and_seal(candidates, now, reason, det, mode)
        return det

    def claim_files(self, names: list[str], mode: str | None = None, now: datetime | None = None,
                    reason: str = "request") -> Detection:
        """Claim explicitly named files now (no quiet period: the caller says they are ready).

        Raises `UnknownFiles` naming blobs that do not exist, are empty or are outside the
        layout. Files claimed before are reported in `already_claimed`, not claimed again.
        """
        from azure.core.exceptions import ResourceNotFoundError

        now = now or _now()
        det = Detection()
        bad, candidates = [], {}
        for name in dict.fromkeys(names):
            if self.feeds.for_blob(name) is None:
                bad.append(name)
                continue
            try:
                props = self.landing.get_blob_client(name).get_blob_properties()
            except ResourceNotFoundError:
                bad.append(name)
                continue
            f = _listed(props)
            if f.size == 0:
                bad.append(name)
                continue
            claims = {_claim_key(b.name): b for b in
                      self.state.list(claim_blob(name, ""), include=["metadata"])
                      if _claim_key(b.name)[0] == name}
            candidate = self._consider(f, claims.get((name, f.etag)), claims, now, det)
            if candidate:
                candidates[name] = candidate
        if bad:
            raise UnknownFiles(bad)
        self._claim_and_seal(candidates, now, reason, det, mode)
        return det

    def pending(self, older_than_seconds: float, now: datetime | None = None) -> list[Batch]:
        """Sealed batches whose run has not started for a while."""
        now = now or _now()
        out = []
        for b in self.state.list(PENDING, include=["metadata"]):
            sealed = datetime.fromisoformat((b.metadata or {}).get("sealedat", now.isoformat()))
            if (now - sealed).total_seconds() >= older_than_seconds:
                out.append(self.load_manifest(b.name[len(PENDING):]))
        return out

    def mark_started(self, batch: str) -> None:
        """The batch's run has started: it is no longer pending (idempotent)."""
        self.state.delete(PENDING + batch)

    def load_manifest(self, batch: str) -> Batch:
        data, _ = self.state.read_json(manifest_blob(batch))
        if data is None:
            raise NotFound(f"no manifest for batch {batch!r}", "unknown batch")
        return Batch.model_validate(data)


class UnknownFiles(NotFound):
    """Named files that are not ready landing files (missing, empty or outside the layout)."""

    error = "unknown files"

    def __init__(self, names: list[str]):
        self.names = names
        super().__init__("unknown or empty landing files: " + ", ".join(names))
