"""Landing-zone detection: find new, settled files and claim each exactly once.

Claims are marker blobs `claims/<landing blob name>` in STATE_CONTAINER, created with
`If-None-Match: *`, so of several detectors racing (the hourly sweep, event sealers, the HTTP
API) exactly one wins each file. The claim's state lives in blob metadata so one list call
per partition tells which files are taken. A claim is made in two steps:

1. `claiming` (owner token, time): the file is reserved;
2. the batch id is computed from the files this detector won, the manifest is written, then
   each claim becomes `claimed` with the batch id.

A detector that dies between the two leaves `claiming` markers; after CLAIM_TIMEOUT_SECONDS
another detector takes them over (If-Match on the stale marker's etag, so again one wins).
Files are never lost and nothing in the landing zone is touched, let alone deleted.
Cost: two list calls per partition scanned (landing + claims) plus writes for new files only.
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
    KINDS,
    MODE_BY_KIND,
    LandingFile,
    batch_id,
    chunk,
    is_temporary,
    kind_of,
    ready,
    recent_prefixes,
)
from shared.markers import newest_data, raise_marker

log = logging.getLogger(__name__)

CLAIMS = "claims/"
MANIFESTS = "manifests/"
# A sealed batch whose run has not started yet; removed when its run starts. The sweep starts
# any it finds (a detector that died after sealing), so no batch is left without a run.
PENDING = "pending/"


def manifest_blob(batch: str) -> str:
    return f"{MANIFESTS}{batch}.json"


@dataclass
class Detection:
    """What one detection pass did: the batches it claimed, and what it left and why."""

    batches: list[Batch] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # not yet quiet: try again later
    already_claimed: dict[str, str] = field(default_factory=dict)  # name -> batch id


def _now() -> datetime:
    return datetime.now(UTC)


def _listed(blob) -> LandingFile:
    # Listing gives bare etags, get-properties quoted ones: keep one form so ids are stable.
    return LandingFile(blob.name, blob.size, blob.etag.strip('"'), blob.last_modified)


class Detector:
    """Detects and claims landing files; one instance per pass (or reuse it, it is stateless).
    `services`: settings, the landing container (read only) and the state (`BlobState`)."""

    def __init__(self, services):
        self.s = services.settings
        self.landing = services.landing
        self.state = services.state
        self.owner = uuid.uuid4().hex

    # --- reading ----------------------------------------------------------------------
    def _claims_under(self, prefix: str) -> dict[str, object]:
        return {b.name[len(CLAIMS):]: b for b in
                self.state.list(CLAIMS + prefix, include=["metadata"])}

    def _landing_under(self, prefix: str) -> list[LandingFile]:
        return [_listed(b) for b in self.landing.list_blobs(name_starts_with=prefix)]

    def _is_abandoned(self, claim, now: datetime) -> bool:
        md = claim.metadata or {}
        if md.get("state") != "claiming":
            return False
        age = (now - datetime.fromisoformat(md["claimedat"])).total_seconds()
        return age > self.s.claim_timeout_seconds

    # --- claiming ---------------------------------------------------------------------
    def _claim(self, f: LandingFile, stale_claim, now: datetime) -> bool:
        """Reserve one file; True when this detector won it."""
        md = {"state": "claiming", "owner": self.owner, "claimedat": now.isoformat(),
              "etag": f.etag}
        if stale_claim is None:
            return self.state.claim_once(CLAIMS + f.name, b"", metadata=md)
        won = self.state.replace(CLAIMS + f.name, b"", stale_claim.etag, metadata=md)
        if won:
            log.warning("took over abandoned claim on %s", f.name)
        return won

    def _seal(self, kind: str, files: list[LandingFile], now: datetime, reason: str,
              mode: str | None = None) -> Batch:
        """Write the manifest for files this detector has reserved, then finalise claims."""
        bid = batch_id(kind, files)
        batch = Batch(batchId=bid, kind=kind, mode=mode or MODE_BY_KIND[kind],
                      manifestPath=f"{self.s.state_container}/{manifest_blob(bid)}",
                      files=[f.as_manifest_entry() for f in files], reason=reason)
        manifest = {**batch.to_json(), "container": self.s.landing_container,
                    "createdAt": now.isoformat()}
        self.state.put(manifest_blob(bid), json.dumps(manifest, indent=1).encode())
        self.state.put(PENDING + bid, b"", metadata={"sealedat": now.isoformat()})
        for f in files:
            self.state.container.get_blob_client(CLAIMS + f.name).set_blob_metadata(
                {"state": "claimed", "owner": self.owner, "claimedat": now.isoformat(),
                 "etag": f.etag, "batchid": bid})
        raise_marker(self.state, newest_data(kind), max(f.last_modified for f in files))
        log.info("sealed batch %s: %d %s files (%s)", bid, len(files), kind, reason)
        return batch

    def _claim_and_seal(self, candidates: dict[str, tuple[LandingFile, object]],
                        now: datetime, reason: str, det: Detection, mode: str | None = None):
        won: dict[str, list[LandingFile]] = {k: [] for k in KINDS}
        for name, (f, stale) in sorted(candidates.items()):
            if self._claim(f, stale, now):
                won[kind_of(name)].append(f)
        for kind, files in won.items():
            for part in chunk(files, self.s.max_batch_files):
                det.batches.append(self._seal(kind, part, now, reason, mode))

    # --- the two ways in ----------------------------------------------------------------
    def sweep(self, now: datetime | None = None, prefixes: list[str] | None = None,
              reason: str = "sweep", mode: str | None = None) -> Detection:
        """Claim every ready, unclaimed file in the recent partitions (or `prefixes`)."""
        now = now or _now()
        det = Detection()
        for prefix in prefixes or recent_prefixes(now, self.s.landing_lookback_days):
            claims = self._claims_under(prefix)
            candidates = {}
            for f in self._landing_under(prefix):
                if kind_of(f.name) is None:
                    continue
                claim = claims.get(f.name)
                if claim is not None and not self._is_abandoned(claim, now):
                    det.already_claimed[f.name] = (claim.metadata or {}).get("batchid", "")
                    continue
                if not ready(f, now, self.s.landing_quiet_seconds):
                    if f.size > 0 and not is_temporary(f.name):
                        det.unsettled.append(f.name)
                    continue
                candidates[f.name] = (f, claim)
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
            if kind_of(name) is None:
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
            claim = self.state.properties(CLAIMS + name)
            if claim is not None and not self._is_abandoned(claim, now):
                det.already_claimed[name] = (claim.metadata or {}).get("batchid", "")
                continue
            candidates[name] = (f, claim)
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
