"""Client-side flows behind the entry points: claim batches and start their orchestrations
exactly once. `client` is a `DurableOrchestrationClient`; blocking storage work runs in a
thread so the worker's event loop stays free."""
from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from datetime import UTC, datetime

from shared.settings import get_settings

log = logging.getLogger(__name__)

PIPELINE_RUN = "pipeline_run"
BATCH_SEALER = "batch_sealer"


async def instance_exists(client, instance_id: str) -> bool:
    status = await client.get_status(instance_id)
    return bool(status and getattr(status, "runtime_status", None) is not None)


async def ensure_started(client, orchestrator: str, instance_id: str, payload) -> bool:
    """Start `orchestrator` as `instance_id` unless that instance exists; True if we did."""
    if await instance_exists(client, instance_id):
        return False
    try:
        await client.start_new(orchestrator, instance_id, payload)
    except Exception:
        if await instance_exists(client, instance_id):  # lost a race with a duplicate
            return False
        raise
    log.info("started %s instance %s", orchestrator, instance_id)
    return True


LIVE_STATES = {"Running", "Pending", "ContinuedAsNew"}


async def ensure_running(client, orchestrator: str, instance_id: str, payload) -> bool:
    """Keep a singleton alive: start it unless it is running; True if we (re)started it."""
    status = await client.get_status(instance_id)
    state = getattr(getattr(status, "runtime_status", None), "value", None)
    if state in LIVE_STATES:
        return False
    await client.start_new(orchestrator, instance_id, payload)
    log.info("%s %s (was %s)", "restarted" if state else "started", instance_id, state)
    return True


async def ensure_monitor(client) -> bool:
    from shared.orchestration.freshness_monitor import MONITOR_INSTANCE

    return await ensure_running(client, "freshness_monitor", MONITOR_INSTANCE, {"cycle": 0})


def _describe(client, batch: dict, started: bool) -> dict:
    urls = client.create_http_management_payload(batch["batchId"])
    return {"batchId": batch["batchId"], "instanceId": batch["batchId"], "kind": batch["kind"],
            "mode": batch["mode"], "files": len(batch.get("files", [])), "started": started,
            "statusQueryGetUri": urls.get("statusQueryGetUri"),
            "terminatePostUri": urls.get("terminatePostUri")}


async def start_batches(client, batches: list[dict]) -> list[dict]:
    out = []
    for batch in batches:
        started = await ensure_started(client, PIPELINE_RUN, batch["batchId"], {"batch": batch})
        out.append(_describe(client, batch, started))
    return out


async def sweep_and_start(client, reason: str = "sweep", prefixes: list[str] | None = None,
                          mode: str | None = None, overrides: dict | None = None) -> dict:
    """Claim ready files (recent partitions or `prefixes`), start their runs, and rescue
    sealed batches whose run never started (a detector died after sealing)."""
    from shared.landing.detection import Detector

    s = get_settings()
    detector = Detector(s)
    det = await asyncio.to_thread(detector.sweep, None, prefixes, reason, mode)
    batches = [_with(b.as_dict(), mode, overrides) for b in det.batches]
    claimed = {b["batchId"] for b in batches}
    orphans = await asyncio.to_thread(detector.pending, s.pending_restart_seconds)
    batches += [_with(m) for m in orphans if m["batchId"] not in claimed]
    runs = await start_batches(client, batches)
    log.info("%s: %d new batches, %d rescued, %d files not yet settled", reason,
             len(det.batches), len(batches) - len(det.batches), len(det.unsettled))
    return {"runs": runs, "unsettled": det.unsettled}


def _with(batch: dict, mode: str | None = None, overrides: dict | None = None) -> dict:
    """The orchestration input for a batch, with the request's per-run overrides."""
    batch = {k: batch[k] for k in ("batchId", "kind", "mode", "manifestPath", "files", "reason")
             if k in batch}
    if mode:
        batch["mode"] = mode
    batch.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return batch


async def start_files(client, files: list[str], mode: str | None, reason: str,
                      overrides: dict | None = None) -> dict:
    """Claim named files now and start their runs; files claimed before give their batch's
    existing instance (the same files never start a second run). Raises UnknownFiles."""
    from shared.landing.detection import Detector

    detector = Detector()
    det = await asyncio.to_thread(detector.claim_files, files, mode, None, reason)
    runs = await start_batches(client, [_with(b.as_dict(), mode, overrides)
                                        for b in det.batches])
    for batch_id in sorted(set(det.already_claimed.values())):
        if not batch_id:  # another detector is sealing it right now: not a run yet
            continue
        manifest = await asyncio.to_thread(detector.load_manifest, batch_id)
        runs.append(_describe(client, manifest, False))
    claiming = sorted(n for n, b in det.already_claimed.items() if not b)
    return {"runs": runs, **({"beingClaimed": claiming} if claiming else {})}


# Sealers this process has already seen started. A sealer's id names its window, and it only
# fires when that window has closed, so for the rest of the window every further event of a
# burst can skip the Durable status call. Bounded: old windows fall out.
_started_sealers: OrderedDict[str, None] = OrderedDict()
_STARTED_SEALERS_MAX = 256


async def note_landed_blob(client, kind: str, now: datetime | None = None) -> str:
    """An event says a file of `kind` landed: make sure this window's sealer is running.

    The window is taken from the time the event is handled, not the event's own time, so
    the sealer it names cannot have fired yet and will see the file."""
    from shared.orchestration.batch_sealer import sealer_instance_id

    s = get_settings()
    instance = sealer_instance_id(kind, now or datetime.now(UTC), s.event_batch_window_seconds)
    if instance not in _started_sealers:
        await ensure_started(client, BATCH_SEALER, instance, {
            "kind": kind, "windowSeconds": s.event_batch_window_seconds,
            "quietSeconds": s.landing_quiet_seconds})
        _started_sealers[instance] = None
        while len(_started_sealers) > _STARTED_SEALERS_MAX:
            _started_sealers.popitem(last=False)
    return instance


async def start_action_run(client, action: str, alert_id: str) -> list[dict]:
    """An alert rule asks to `retrain` (train-and-score on the newest labelled batch) or
    `score` (rescore the newest unlabelled batch). The run is a new batch over the same
    files, its id derived from the alert, so a repeated alert starts nothing more."""
    from shared.runs.records import RunRecords

    kind = "labelled" if action == "retrain" else "unlabelled"
    newest = await asyncio.to_thread(RunRecords().recent, 1, kind)
    if not newest:
        log.warning("alert %s asks to %s, but there is no %s batch yet", alert_id, action, kind)
        return []
    base = newest[0]
    batch = {"batchId": f"{base['batchId']}-{action}-{alert_id[-12:]}", "kind": kind,
             "mode": "train-and-score" if action == "retrain" else "score",
             "manifestPath": base["manifestPath"], "files": base.get("files", []),
             "reason": f"alert {alert_id}: {action}"}
    return await start_batches(client, [batch])
