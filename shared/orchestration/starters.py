"""Client-side flows behind the entry points: claim batches and start their orchestrations
exactly once, keep the freshness monitor alive, watch the factory's runs for their orchestrations,
decide and start reruns and alert actions.

`client` is a `DurableOrchestrationClient`; `services` the invocation's `Services`.
Blocking storage work runs in a thread so the worker's event loop stays free. Instance ids
and names come from `contract`; a start is idempotent because the id derives from the work.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from shared.errors import BadRequest, Conflict, NotFound
from shared.landing.batch import Batch, RunOverrides, check_batch_id
from shared.orchestration import contract
from shared.telemetry import run_context

log = logging.getLogger(__name__)

LIVE_STATES = {"Running", "Pending", "ContinuedAsNew"}
RERUNNABLE = ("failed", "timed_out", "cancelled")


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


async def ensure_running(client, orchestrator: str, instance_id: str, payload) -> bool:
    """Keep a singleton alive: start it unless it is running; True if we (re)started it."""
    status = await client.get_status(instance_id)
    state = getattr(getattr(status, "runtime_status", None), "value", None)
    if state in LIVE_STATES:
        return False
    await client.start_new(orchestrator, instance_id, payload)
    log.info("%s %s (was %s)", "restarted" if state else "started", instance_id, state)
    return True


async def ensure_monitor(client, services) -> bool:
    return await ensure_running(client, contract.FRESHNESS_MONITOR, contract.MONITOR_INSTANCE,
                                {"cycle": 0, "retry": contract.retry_policy(services.settings)})


def run_input(batch: Batch, services) -> dict:
    """The `pipeline_run` orchestration input for a batch."""
    return {"batch": batch.to_json(), "retry": contract.retry_policy(services.settings)}


def _describe(batch: Batch, started: bool, instance_id: str | None = None) -> dict:
    """What the API answers about a run it started or found: our own links, no Durable URLs."""
    return {"batchId": batch.batchId, "instanceId": instance_id or batch.batchId,
            "feed": batch.feed, "kind": batch.kind, "mode": batch.mode, "files": len(batch.files),
            "started": started, "runUri": f"/api/runs/{batch.batchId}"}


START_AT_ONCE = 16  # run starts in flight at once (each: an instance lookup, a start)


async def start_batches(client, services, batches: list[Batch]) -> list[dict]:
    """Start each batch's run (unless it exists), START_AT_ONCE at a time: a request or sweep
    that seals hundreds of batches must still answer within the HTTP limit (230 s on Azure).
    Answers in the batches' order."""
    gate = asyncio.Semaphore(START_AT_ONCE)

    async def start(batch: Batch) -> dict:
        async with gate:
            with run_context(batchId=batch.batchId, instanceId=batch.batchId):
                started = await ensure_started(client, contract.PIPELINE_RUN, batch.batchId,
                                               run_input(batch, services))
            return _describe(batch, started)

    done = await asyncio.gather(*(start(b) for b in batches), return_exceptions=True)
    failed = [d for d in done if isinstance(d, BaseException)]
    if failed:  # every other start was tried; the sweep or the caller's retry starts the rest
        raise failed[0]
    return done


def check_overrides(overrides: RunOverrides | None, settings) -> None:
    """Refuse (400) per-run options this app cannot honour with its settings."""
    from shared.settings import endpoint_settings_problem

    if overrides and overrides.scoreTarget == "aml-endpoint":
        problem = endpoint_settings_problem(settings)
        if problem:
            raise BadRequest(f"scoreTarget: aml-endpoint is not configured: {problem}")


async def sweep_and_start(client, services, reason: str = "sweep",
                          prefixes: list[str] | None = None, mode: str | None = None,
                          overrides: RunOverrides | None = None, feed: str | None = None) -> dict:
    """Claim ready files (recent partitions of every feed or of `feed`, or `prefixes`), start
    their runs, and rescue sealed batches whose run never started (a detector died after
    sealing)."""
    from shared.landing.detection import Detector

    check_overrides(overrides, services.settings)
    detector = Detector(services)
    if feed and not prefixes:
        prefixes = detector.recent_prefixes(datetime.now(UTC), services.feeds[feed])
    det = await asyncio.to_thread(detector.sweep, None, prefixes, reason, mode)
    batches = [b.with_request(mode, overrides) for b in det.batches]
    claimed = {b.batchId for b in batches}
    orphans = await asyncio.to_thread(detector.pending, services.settings.pending_restart_seconds)
    batches += [b for b in orphans if b.batchId not in claimed]
    runs = await start_batches(client, services, batches)
    for run in runs:  # a rescued batch whose run exists: its marker is stale, drop it
        if not run["started"] and run["batchId"] not in claimed:
            await asyncio.to_thread(detector.mark_started, run["batchId"])
    log.info("%s: %d new batches, %d rescued, %d files not yet settled", reason,
             len(det.batches), len(batches) - len(det.batches), len(det.unsettled))
    return {"runs": runs, "unsettled": det.unsettled}


async def start_files(client, services, files: list[str], mode: str | None, reason: str,
                      overrides: RunOverrides | None = None) -> dict:
    """Claim named files now and start their runs; files claimed before give their batch's
    existing instance (the same files never start a second run). Raises UnknownFiles."""
    from shared.landing.detection import Detector

    check_overrides(overrides, services.settings)
    detector = Detector(services)
    det = await asyncio.to_thread(detector.claim_files, files, mode, None, reason)
    runs = await start_batches(client, services,
                               [b.with_request(mode, overrides) for b in det.batches])
    for batch_id in sorted(set(det.already_claimed.values())):
        if not batch_id:  # another detector is sealing it right now: not a run yet
            continue
        manifest = await asyncio.to_thread(detector.load_manifest, batch_id)
        runs.append(_describe(manifest, False))
    claiming = sorted(n for n, b in det.already_claimed.items() if not b)
    return {"runs": runs, **({"beingClaimed": claiming} if claiming else {})}


# Sealers this process has already seen started. A sealer's id names its window, and it only
# fires when that window has closed, so for the rest of the window every further event of a
# burst can skip the Durable status call. Bounded: old windows fall out.
_started_sealers: OrderedDict[str, None] = OrderedDict()
_STARTED_SEALERS_MAX = 256


async def note_landed_blob(client, services, kind: str, now: datetime | None = None,
                           feed: str | None = None) -> str:
    """An event says a file of `kind` (of `feed`, default digits) landed: make sure this
    window's sealer for the feed and kind is running.

    The window is taken from the time the event is handled, not the event's own time, so
    the sealer it names cannot have fired yet and will see the file."""
    s = services.settings
    tag = services.feeds.get(feed).tag
    instance = contract.sealer_instance_id(kind, now or datetime.now(UTC),
                                           s.event_batch_window_seconds, tag)
    if instance not in _started_sealers:
        await ensure_started(client, contract.BATCH_SEALER, instance, {
            "kind": kind, **({"feed": feed} if tag else {}),
            "windowSeconds": s.event_batch_window_seconds,
            "quietSeconds": s.landing_quiet_seconds, "retry": contract.retry_policy(s)})
        _started_sealers[instance] = None
        while len(_started_sealers) > _STARTED_SEALERS_MAX:
            _started_sealers.popitem(last=False)
    return instance


async def run_record(services, batch_id: str) -> dict:
    """The run record of `batch_id`; NotFound when there is none."""
    from shared.runs.records import RunRecords

    check_batch_id(batch_id)
    record = await asyncio.to_thread(RunRecords(services.state).get, batch_id)
    if record is None:
        raise NotFound(f"no run for batch {batch_id!r}", "unknown run")
    return record


async def request_cancel(client, services, batch_id: str) -> dict:
    """Ask a running run's orchestration to cancel its ADF run. Raises NotFound or
    Conflict (not running)."""
    record = await run_record(services, batch_id)
    if record.get("status") != "running":
        raise Conflict(f"run {batch_id} is {record.get('status')}", "run is not running")
    try:
        await client.raise_event(record["instanceId"], contract.CANCEL_EVENT, {"by": "api"})
    except Exception as exc:
        if not owner_gone(exc):
            raise
        raise Conflict(f"run {batch_id}'s orchestration {record['instanceId']} has ended: "
                       "nothing to cancel", "run is not running") from None
    with run_context(batchId=batch_id, instanceId=record["instanceId"],
                     adfRunId=(record.get("adfRunIds") or [None])[-1]):
        log.info("batch %s: cancel requested for instance %s", batch_id, record["instanceId"])
    return {"batchId": batch_id, "instanceId": record["instanceId"], "cancelRequested": True}


async def start_rerun(client, services, batch_id: str) -> dict:
    """Rerun a failed, timed-out or cancelled run from its failed activity, as a new
    orchestration of the same batch. Raises NotFound or Conflict (not rerunnable)."""
    record = await run_record(services, batch_id)
    if record.get("status") not in RERUNNABLE or not record.get("adfRunIds"):
        raise Conflict(f"run {batch_id} is {record.get('status')}; only a failed run is rerun",
                       "nothing to rerun")
    batch = Batch.model_validate(record).rerun(record["adfRunIds"][-1])
    check_overrides(batch, services.settings)  # the settings may have changed since the run
    instance_id = contract.rerun_instance_id(batch_id, len(record["adfRunIds"]))
    with run_context(batchId=batch_id, instanceId=instance_id, adfRunId=batch.rerunOf):
        started = await ensure_started(client, contract.PIPELINE_RUN, instance_id,
                                       run_input(batch, services))
    return {**_describe(batch, started, instance_id), "rerunOf": batch.rerunOf}


async def start_action_run(client, services, action: str, alert_id: str) -> list[dict]:
    """An alert rule asks to `retrain` (train-and-score on the default feed's newest labelled
    batch) or `score` (rescore its newest unlabelled batch). The run is a new batch over the same
    files, its id derived from the alert, so a repeated alert starts nothing more."""
    from shared.landing.batch import ACTION_KIND
    from shared.runs.records import RunRecords

    kind = ACTION_KIND[action]
    # Rule actions (RULE_ACTIONS) are the app's, older than feeds: the default feed's batch.
    newest = await asyncio.to_thread(RunRecords(services.state).recent, 1, kind, False,
                                     services.feeds.get(None).name)
    if not newest:
        log.warning("alert %s asks to %s, but there is no %s batch yet", alert_id, action, kind)
        return []
    batch = Batch.model_validate(newest[0]).for_action(action, alert_id)
    return await start_batches(client, services, [batch])


HAND_OVER_AT_ONCE = 16  # events raised at once by one look (many runs ending together)


async def watch_and_hand_over(client, services, now: datetime | None = None) -> dict:
    """One tick of the run watcher (the `run_watcher_tick` timer): when a look is `due`, one look
    (`shared.runs.watch`), then each change to its owner as a `run_changed` event.

    An owner that is gone (finished, purged) just misses the event; a change that could
    not be handed over for another reason (the Durable API out of reach) is carried as
    `pending` and handed over with the next look's, unless a newer change of the same
    owner replaces it. A look that fails keeps the old window (the overlap makes up for it)
    and the next one waits twice as long. The carried state is written under its etag, so
    of two looks at once (a deployment swap) only one moves the window (the other's events
    not handed over are left to the runs' safety-net polls); a crash anywhere before that
    write repeats the look, whose events the owners take again harmlessly, and one between
    it and the heartbeat only makes the next tick look again.
    Returns what this tick did, for the log."""
    from shared.runs import watch
    from shared.settings import tick_gaps

    s = services.settings
    if s.run_tracking != "watcher":
        return {"skipped": "RUN_TRACKING=poll"}
    now = now or datetime.now(UTC)
    state, adf = services.state, services.adf
    raw, _ = await asyncio.to_thread(state.read_bytes, watch.HEARTBEAT)
    early = timedelta(seconds=tick_gaps(s.watch_tick_schedule)[0] / 2)
    beat = _json_or_none(raw)  # not JSON: due, and this look writes it afresh
    if not watch.due(beat, now, early, s.watch_interval_seconds):
        return {"skipped": "not due"}
    raw, etag = await asyncio.to_thread(state.read_bytes, watch.STATE)
    carried = watch.carried_state(raw)  # not a watcher's state: replaced under its etag
    try:
        seen = await asyncio.to_thread(watch.look, services, carried.get("since"),
                                       carried.get("tracked") or {}, now)
    except Exception as exc:  # ADF or storage out of reach: try again later, same window
        log.warning("watcher: look failed (%s); keeping the window", exc)
        wait = 2 * s.watch_interval_seconds * adf.budget.slowdown(s.arm_reads_low)
        failed = {**(beat if isinstance(beat, dict) else {}), "error": str(exc)[:200],
                  "failedAt": now.isoformat(),
                  "nextLookAt": (now + timedelta(seconds=wait)).isoformat()}
        await asyncio.to_thread(state.put, watch.HEARTBEAT, failed)
        return {"error": failed["error"], "nextLookAt": failed["nextLookAt"]}
    slowdown = adf.budget.slowdown(s.arm_reads_low)
    gate = asyncio.Semaphore(HAND_OVER_AT_ONCE)

    async def hand_over(change: dict) -> str:
        async with gate:
            try:
                await client.raise_event(change["instanceId"], contract.RUN_CHANGED_EVENT, {
                    **change["status"], "slowdown": slowdown, "handedAt": now.isoformat()})
                return "delivered"
            except Exception as exc:
                gone = owner_gone(exc)
                log.log(logging.INFO if gone else logging.WARNING,
                        "watcher: %s did not take its event (%s)%s", change["instanceId"], exc,
                        "" if gone else "; handing it over again next look")
                return "gone" if gone else "pending"

    # The latest change per owner: an older pending one is superseded by a newer look.
    changes = list({c["instanceId"]: c for c in [*(carried.get("pending") or []),
                                                  *seen["changes"]]}.values())
    outcomes = await asyncio.gather(*(hand_over(c) for c in changes))
    delivered = outcomes.count("delivered")
    pending = [c for c, o in zip(changes, outcomes, strict=True) if o == "pending"]
    after = {"since": seen["since"], "tracked": seen["tracked"], "pending": pending}
    if not await asyncio.to_thread(state.write_if_unchanged, watch.STATE, after, etag):
        log.warning("watcher: another look moved the window first; leaving it to that one")
        return {"skipped": "another look wrote first", "delivered": delivered}
    interval = s.watch_interval_seconds * slowdown
    beat = {"lookedAt": now.isoformat(),
            "nextLookAt": (now + timedelta(seconds=interval)).isoformat(),
            "runsSeen": seen["runsSeen"], "changes": len(seen["changes"]),
            "failedReads": seen["failedReads"],
            "delivered": delivered, "pending": len(pending), "tracked": len(seen["tracked"]),
            "slowdown": slowdown, "remainingReads": adf.budget.remaining}
    await asyncio.to_thread(state.put, watch.HEARTBEAT, beat)
    return beat


def _json_or_none(raw: bytes | None):
    try:
        return json.loads(raw) if raw is not None else None
    except ValueError:
        return None


def owner_gone(exc: Exception) -> bool:
    """Whether the Durable client's `raise_event` failed because the instance no longer
    takes events (its 404 and 410 answers, which the SDK raises as a bare Exception naming
    them), rather than because the Durable API could not be reached."""
    text = str(exc)
    return "No instance with ID" in text or "is gone" in text


FINISHED_STATES = ("Completed", "Failed", "Terminated")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


async def apply_retention(client, services, now: datetime | None = None) -> dict:
    """RETENTION_DAYS: purge the Durable instances that finished and were created before
    the cutoff (a running one, such as the freshness monitor or a long run, is never purged), then
    remove expired run state (`shared.runs.retention`). The purge is one call and goes
    first, so a long first pass over years of state cannot keep it from ever running."""
    from azure.durable_functions.models.OrchestrationRuntimeStatus import (
        OrchestrationRuntimeStatus,
    )

    from shared.runs.retention import cutoff, purge_state

    now = now or datetime.now(UTC)
    before = cutoff(now, services.settings.retention_days)
    if before is None:
        return {"expired": 0, "instancesDeleted": 0}
    purged = await client.purge_instance_history_by(
        created_time_from=_EPOCH, created_time_to=before,
        runtime_status=[OrchestrationRuntimeStatus(s) for s in FINISHED_STATES])
    deleted = getattr(purged, "instances_deleted", 0)
    log.info("retention: %d finished Durable instances created before %s purged", deleted,
             before.isoformat())
    result = await asyncio.to_thread(purge_state, services, now)
    return {**result, "instancesDeleted": deleted}
