"""One look of the run watcher: every run of the factory updated since the last look, in
one `queryPipelineRuns` by factory (paged), and the new status of each run the app owns.

Window: [since - OVERLAP, now]. Consecutive windows overlap by OVERLAP_SECONDS, so a run
whose `lastUpdated` becomes visible late, or a look that was retried or restarted, misses
nothing; a run seen twice with the same `lastUpdated` costs nothing more. A fresh watcher
(no `since`), or one that has not looked for longer, looks back LOOKBACK_SECONDS at most: a
run of ours that changed before that is caught by its own safety-net poll. Only a failed
runs query fails a look: a run whose own reads fail (its record, its activity runs) is left
as it was, the rest of the look goes on, and the next window starts at that run's change.

Cadence: the watcher is a timer trigger (`functions/triggers.py`) that ticks every few
seconds (WATCH_TICK_SCHEDULE) and looks only when `due`: WATCH_INTERVAL_SECONDS after the
last look began (longer while ARM's read budget is low or after a failed look). It is not a
Durable activity, so a look never waits in the activity queue behind the work of runs that
just ended (hundreds of `finish_run` when many end together). What it carries from look to
look (`since`, `tracked`, `pending`) is the STATE blob, written under its etag; when and how
it last looked is the HEARTBEAT blob, which every tick reads and `/api/health` shows.

Ownership: a run is the app's when its `batchId` parameter names a run record whose status
is `running`; the change goes to that record's `instanceId` (the batch's orchestration, or
its rerun's). Other runs are left to the monitoring that already covers them.

`tracked` (carried by the watcher from look to look) holds, per run id seen recently, its
`lastUpdated`, owner and stage signature: owned runs until they end, others only while they
can reappear in the overlap. Activity runs are fetched only for owned runs that changed;
an owned run in progress that did not change (Data Factory moves `lastUpdated` when an
activity starts or ends, so this is a guard, not the main path) has its activity runs read
again once its stage is STAGE_MAX_AGE_SECONDS old, at most REFRESHES_PER_LOOK per look
(oldest first, one `queryActivityruns` each), so that cost stays flat however many runs
are in progress; its record is read first, and a run the app no longer follows (timed out
or cancelled while Data Factory is still cancelling it) is let go. The reads of one look
(run records, activity runs) go READS_AT_ONCE at a time: with many runs ending together, a
look that read them one by one would itself delay the last run's news by seconds.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator

from shared.adf.status import TERMINAL_STATUSES, map_run_status, status_signature
from shared.errors import describe_validation_error
from shared.landing.batch import BATCH_ID
from shared.pools import shared_pool
from shared.runs.records import RunRecords

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 60.0
LOOKBACK_SECONDS = 3600.0
STAGE_MAX_AGE_SECONDS = 60.0
REFRESHES_PER_LOOK = 2
READS_AT_ONCE = 8
_RUN_KEPT = ("runId", "runGroupId", "pipelineName", "status", "runStart", "lastUpdated")
FORGET_AFTER = timedelta(days=8)  # longer than any run: a run never seen again is let go
HEARTBEAT = "watcher/last-look.json"
STATE = "watcher/state.json"
LONGEST_WAIT = 16  # intervals: a failed look's double wait at the lowest ARM budget (8x)


def due(beat: dict | None, now: datetime, early: timedelta, interval: float) -> bool:
    """Whether a tick at `now` looks: the first tick ever, or the next look's time has come
    (`early`: half the shortest gap between ticks, so a tick that runs late never costs a
    whole tick and none looks a tick too soon), or the heartbeat does not say when, or says
    a time further off than any wait there is (hand-edited, a clock that was wrong)."""
    try:
        at = datetime.fromisoformat(beat["nextLookAt"])
        return now >= at - early or at - now > timedelta(seconds=LONGEST_WAIT * interval)
    except (TypeError, KeyError, ValueError):  # TypeError: not a dict, or a naive time
        return True


def _aware(value: str) -> str:
    if datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("needs a time zone")
    return value


def _time_or_empty(value: str) -> str:
    _time(value)
    return value


_Timestamp = Annotated[str, AfterValidator(_aware)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class _Run(_Strict):
    """What a refresh reads a run's activity runs with (`_RUN_KEPT`)."""
    runId: str
    runGroupId: str | None = None
    pipelineName: str | None = None
    status: str | None = None
    runStart: Annotated[str, AfterValidator(_time_or_empty)] | None = None
    lastUpdated: Annotated[str, AfterValidator(_time_or_empty)] | None = None


class _Tracked(_Strict):
    owner: str | None = None
    lastUpdated: Annotated[str, AfterValidator(_time_or_empty)]
    seenAt: _Timestamp
    fetchedAt: _Timestamp
    terminal: bool = False
    signature: str | None = None
    run: _Run | None = None
    batchId: str | None = None  # an owned run's: its owner is read again at a refresh

    @model_validator(mode="after")
    def _owned_runs_carry_their_run(self):
        if self.owner and self.run is None:
            raise ValueError("a run of ours carries its `run` (to read its activity runs)")
        return self


class _Change(_Strict):
    instanceId: str
    status: dict


class _Carried(_Strict):
    since: _Timestamp | None = None
    tracked: dict[str, _Tracked] = {}
    pending: list[_Change] = []


def carried_state(raw: bytes | None) -> dict:
    """The STATE blob's document if it has the shape looks write; otherwise (not JSON,
    hand-edited, from an incompatible version) the error is logged naming the blob and the
    watcher starts afresh: it looks back LOOKBACK_SECONDS, and its next write replaces the
    blob."""
    if raw is None:
        return {}
    try:
        _Carried.model_validate_json(raw)
    except ValidationError as exc:
        log.error("watcher: %s is not a watcher state (%s); starting afresh", STATE,
                  describe_validation_error(exc, root="state"))
        return {}
    return json.loads(raw)


def window(since: str | None, now: datetime) -> tuple[datetime, datetime]:
    """[after, before] of this look."""
    oldest = now - timedelta(seconds=LOOKBACK_SECONDS)
    start = max(datetime.fromisoformat(since), oldest) if since else oldest
    return min(start, now) - timedelta(seconds=OVERLAP_SECONDS), now


def stale_refreshes(tracked: dict, now: datetime) -> list[str]:
    """Owned runs in progress whose stage is too old to show, oldest first, capped (a run
    that changed in this look was just read: its `fetchedAt` is now)."""
    due = [rid for rid, t in tracked.items()
           if t.get("owner") and not t.get("terminal")
           and now - datetime.fromisoformat(t["fetchedAt"]) >= timedelta(
               seconds=STAGE_MAX_AGE_SECONDS)]
    return sorted(due, key=lambda rid: tracked[rid]["fetchedAt"])[:REFRESHES_PER_LOOK]


def forget(tracked: dict, after: datetime, now: datetime) -> dict:
    """Drop what cannot matter again: ended or foreign runs older than the overlap, and
    anything not seen for FORGET_AFTER."""
    keep = {}
    for rid, t in tracked.items():
        seen = datetime.fromisoformat(t["seenAt"])
        updated = _time(t["lastUpdated"])
        settled = t.get("terminal") or not t.get("owner")
        if (settled and updated is not None and updated < after) or now - seen > FORGET_AFTER:
            continue
        keep[rid] = t
    return keep


def _time(value) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(str(value))  # Python 3.11 reads ADF's trailing Z
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def batch_of(run: dict) -> str | None:
    """The run's `batchId` parameter when it has the shape the app's batch ids have."""
    batch_id = (run.get("parameters") or {}).get("batchId")
    if not isinstance(batch_id, str) or not BATCH_ID.fullmatch(batch_id):
        return None  # not one of ours (another team's pipeline may have a batchId too)
    return batch_id


def owner_of(records: RunRecords, batch_id: str | None) -> str | None:
    """The instance that follows the batch's run: its record's, while the record says
    `running`."""
    if batch_id is None:
        return None
    record = records.get(batch_id)
    if not record or record.get("status") != "running":
        return None
    return record.get("instanceId")


def look(services, since: str | None, tracked: dict, now: datetime) -> dict:
    """{"changes": [{"instanceId", "status"}], "since" (for the next look), "tracked",
    "runsSeen", "failedReads"}. Raises what the ADF client raises for the runs query; a
    run whose own reads fail is left for the next look (its window starts at that run's
    change, at most LOOKBACK_SECONDS back), and the rest of the look goes on."""
    adf, records = services.adf, RunRecords(services.state)
    after, before = window(since, now)
    since_was = after + timedelta(seconds=OVERLAP_SECONDS)  # this window's `since`
    tracked = {k: dict(v) for k, v in (tracked or {}).items()}
    runs = adf.runs_updated(after, before)
    fresh: dict[str, tuple[dict, dict | None]] = {}  # new or moved runs: (run, tracked entry)
    for run in runs:
        seen = tracked.get(run["runId"])
        if seen and seen["lastUpdated"] == str(run.get("lastUpdated")):
            seen["seenAt"] = now.isoformat()
        else:
            fresh[run["runId"]] = run, seen

    def follow(item: tuple[dict, dict | None]) -> tuple[str | None, dict | None]:
        """(owner, its new status): a run record read, then the run's activity runs."""
        run, seen = item
        owner = seen["owner"] if seen else owner_of(records, batch_of(run))
        return owner, adf.status_of(run) if owner else None

    def refresh(rid: str) -> tuple[str | None, dict | None]:
        """(owner, its new status) of a stale run, its owner read again first: a run the
        app has let go while Data Factory still runs it (timed out or cancelled, and still
        `Cancelling`) is dropped, not read every minute until Data Factory ends it."""
        entry = tracked[rid]
        owner = owner_of(records, entry["batchId"]) if "batchId" in entry else entry["owner"]
        return owner, adf.status_of(entry["run"]) if owner else None

    changes, failed, retry_from = [], 0, before
    pool = shared_pool("watch", READS_AT_ONCE)
    for (rid, (run, _)), followed in zip(fresh.items(), pool.map(
            lambda item: _or_none(follow, item, item[0]["runId"]), fresh.values()),
            strict=True):
        if followed is None:  # its entry stays as it was: the next look reads it again
            failed += 1
            retry_from = min(retry_from, _time(run.get("lastUpdated")) or since_was)
            continue
        owner, status = followed
        entry = {"owner": owner, "lastUpdated": str(run.get("lastUpdated")),
                 "seenAt": now.isoformat(), "fetchedAt": now.isoformat(),
                 "terminal": map_run_status(run.get("status")) in TERMINAL_STATUSES}
        if owner:
            entry["signature"] = status_signature(status)
            entry["run"] = {k: run.get(k) for k in _RUN_KEPT}
            entry["batchId"] = batch_of(run)
            changes.append({"instanceId": owner, "status": status})
        tracked[rid] = entry
    refreshed = stale_refreshes(tracked, now)
    for rid, followed in zip(refreshed, pool.map(
            lambda rid: _or_none(refresh, rid, rid), refreshed), strict=True):
        if followed is None:  # its fetchedAt stays old: first in line next look
            failed += 1
            continue
        entry = tracked[rid]
        owner, status = followed
        if owner is None:  # let go: `forget` drops it once it is out of the overlap
            entry.update(owner=None, fetchedAt=now.isoformat())
            continue
        entry.update(owner=owner, fetchedAt=now.isoformat(), terminal=status["terminal"])
        if status_signature(status) != entry.get("signature"):
            entry["signature"] = status_signature(status)
            changes.append({"instanceId": entry["owner"], "status": status})
    log.info("watcher: %d runs updated in [%s, %s], %d changes of ours, %d refreshed",
             len(runs), after.isoformat(), before.isoformat(), len(changes), len(refreshed))
    # A run whose reads failed must be in the next window: it starts at that run's change.
    since = min(retry_from, before)
    return {"changes": changes, "since": since.isoformat(),
            "tracked": forget(tracked, since - timedelta(seconds=OVERLAP_SECONDS), now),
            "runsSeen": len(runs), "failedReads": failed}


def _or_none(read, arg, run_id: str):
    """`read(arg)`, or None when it raises (logged): one run's reads failing (a throttled
    activity query, an odd record) must not hold back every other run's news."""
    try:
        return read(arg)
    except Exception as exc:
        log.warning("watcher: could not read run %s (%s); reading it again next look",
                    run_id, exc)
        return None
