"""The Durable runtime: runs `core.step` episodes for instances on a bounded orchestrator
pool (one episode at a time per instance), activities on a bounded activity pool, durable
timers on one timer thread, and keeps every record in the hub store.

Order of writes is what makes a restart safe: an episode's record (with the activities and
timers it scheduled) is persisted before that work starts, and an activity's result or a
timer's firing is persisted into the instance's inbox before anything acts on it. A restarted
engine re-reads every live instance and starts its outstanding work again (`pending_work`):
an activity in flight at a crash runs again, one already reported does not.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from devstack.host.durable import core
from devstack.host.durable.history import now_utc, parse_iso
from devstack.host.invoke import activity_failure, decode_activity_input, encode_activity_output
from devstack.host.store import HubStore

log = logging.getLogger(__name__)


class AlreadyExists(Exception):
    def __init__(self, instance_id: str, status: str):
        super().__init__(f"An Orchestration instance with the status {status} already exists.")
        self.instance_id, self.status = instance_id, status


class UnknownOrchestrator(Exception):
    pass


class DurableEngine:
    def __init__(self, store: HubStore, orchestrators: dict[str, Callable],
                 activities: dict[str, Callable[[object], object]],
                 max_orchestrators: int = 8, max_activities: int = 8):
        self.store = store
        self.orchestrators = orchestrators
        self.activities = activities  # name -> f(decoded input) -> value
        self._orch_pool = ThreadPoolExecutor(max_orchestrators, thread_name_prefix="orch")
        self._act_pool = ThreadPoolExecutor(max_activities, thread_name_prefix="activity")
        self._glock = threading.Lock()
        self._locks: dict[str, list] = {}  # instance id -> [RLock, holders + waiters]
        self._cache: dict[str, tuple[dict, str]] = {}
        self._running: set[str] = set()
        self._timers: list = []
        self._timer_seq = itertools.count()
        self._timer_cv = threading.Condition()
        self._stopping = threading.Event()
        self._timer_thread = threading.Thread(target=self._timer_loop, name="durable-timers",
                                              daemon=True)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> DurableEngine:
        self.store.ensure()
        self._timer_thread.start()
        recovered = 0
        for instance_id in self.store.active_instance_ids():
            with self._lock(instance_id):
                rec = self._load(instance_id)
                if rec is None:
                    continue
                eff = core.pending_work(rec)
            self._start_work(eff)
            if eff.rerun:
                self._kick(instance_id)
            recovered += 1
        if recovered:
            log.info("durable: resumed %d instance(s) of task hub %s", recovered,
                     self.store.task_hub)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._timer_cv:
            self._timer_cv.notify_all()
        self._orch_pool.shutdown(wait=False, cancel_futures=True)
        self._act_pool.shutdown(wait=False, cancel_futures=True)

    # --- client operations (the HTTP API calls these) --------------------------------------

    def start_new(self, name: str, instance_id: str, input_value) -> dict:
        if name not in self.orchestrators:
            raise UnknownOrchestrator(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: the following are the known orchestrator "
                f"functions: {', '.join(sorted(self.orchestrators))}")
        with self._lock(instance_id):
            existing, etag = self._load_with_etag(instance_id)
            if existing is not None and existing["runtimeStatus"] not in core.TERMINAL:
                raise AlreadyExists(instance_id, existing["runtimeStatus"])
            rec = core.new_instance(instance_id, name, input_value, now_utc())
            self._save(rec, etag)
        log.info("durable: started %s instance=%s", name, instance_id)
        self._kick(instance_id)
        return rec

    def get(self, instance_id: str) -> dict | None:
        with self._lock(instance_id):
            rec = self._load(instance_id)
            return None if rec is None else dict(rec)

    def raise_event(self, instance_id: str, name: str, input_text: str) -> int:
        """HTTP status as the real API answers: 202 accepted, 404 unknown, 410 finished."""
        return self._post(instance_id, core.message("EventRaised", name=name,
                                                    input=input_text))

    def terminate(self, instance_id: str, reason: str | None) -> int:
        return self._post(instance_id, core.message("Terminate", reason=reason))

    def purge(self, instance_id: str) -> bool:
        with self._lock(instance_id):
            self._cache.pop(instance_id, None)
            return self.store.delete(instance_id)

    def list_records(self, prefix: str = "") -> list[dict]:
        out = []
        for instance_id, _ in self.store.list_instances(prefix):
            rec = self.get(instance_id)
            if rec is not None:
                out.append(rec)
        return out

    def deliver(self, instance_id: str, msg: dict) -> bool:
        """Persist a message into an instance's inbox and schedule an episode for it."""
        with self._lock(instance_id):
            rec = self._load(instance_id)
            if rec is None or not core.wanted(rec, msg):
                log.debug("durable: dropped %s for %s (gone, finished or already applied)",
                          msg["kind"], instance_id)
                return False
            rec["inbox"].append(msg)
            self._save(rec, self._cache[instance_id][1])
        self._kick(instance_id)
        return True

    def _post(self, instance_id: str, msg: dict) -> int:
        with self._lock(instance_id):
            rec = self._load(instance_id)
            if rec is None:
                return 404
            if rec["runtimeStatus"] in core.TERMINAL:
                return 410
        return 202 if self.deliver(instance_id, msg) else 410

    # --- episodes ------------------------------------------------------------------------

    def _kick(self, instance_id: str) -> None:
        with self._glock:
            if instance_id in self._running or self._stopping.is_set():
                return
            self._running.add(instance_id)
        self._orch_pool.submit(self._run, instance_id)

    def _run(self, instance_id: str) -> None:
        try:
            while not self._stopping.is_set():
                with self._lock(instance_id):
                    rec = self._load(instance_id)
                    if rec is None or not (rec["inbox"] or rec["runtimeStatus"] == "Pending"):
                        with self._glock:
                            self._running.discard(instance_id)
                        return
                    eff = core.step(rec, now_utc(), self.orchestrators)
                    if eff.rerun:  # continue-as-new: the new execution starts next round
                        rec["inbox"].append(core.message("Continue", rec["executionId"]))
                    self._save(rec, self._cache[instance_id][1])
                    if rec["runtimeStatus"] in core.TERMINAL:
                        log.info("durable: %s instance=%s %s", rec["name"], instance_id,
                                 rec["runtimeStatus"])
                        self._cache.pop(instance_id, None)
                self._start_work(eff)
        except Exception:
            log.exception("durable: episode of %s failed; retrying from storage", instance_id)
            with self._lock(instance_id):
                self._cache.pop(instance_id, None)
            with self._glock:
                self._running.discard(instance_id)
            threading.Timer(1.0, self._kick, (instance_id,)).start()

    def _start_work(self, eff: core.Effects) -> None:
        for work in eff.activities:
            self._act_pool.submit(self._run_activity, work)
        for t in eff.timers:
            self._arm(t)
        for child in eff.children:
            self._persistently(self._create_child, child)
        for target, msg in eff.notify:
            self._persistently(self.deliver, target, msg)

    def _persistently(self, fn, *args) -> None:
        """Retry a storage write until it lands (Azurite restarting, say): what it carries
        exists nowhere else until then."""
        delay = 0.2
        while True:
            try:
                fn(*args)
                return
            except Exception as exc:
                if self._stopping.is_set():
                    return  # a restart re-derives it from the stored records
                log.warning("durable: %s failed (%s: %s); retrying in %.1fs", fn.__name__,
                            type(exc).__name__, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _create_child(self, child: dict) -> None:
        parent = child["parent"]
        with self._lock(child["instanceId"]):
            existing, etag = self._load_with_etag(child["instanceId"])
            if existing is not None and existing["runtimeStatus"] not in core.TERMINAL:
                if existing.get("parent") == parent:
                    return  # created before a restart
                problem = AlreadyExists(child["instanceId"], existing["runtimeStatus"])
                self.deliver(parent["instanceId"], core.message(
                    "SubOrchestrationFailed", parent["executionId"], taskId=parent["taskId"],
                    reason=str(problem), details=None))
                return
            rec = core.new_instance(child["instanceId"], child["name"], child["input"],
                                    now_utc(), parent=parent)
            self._save(rec, etag)
        self._kick(child["instanceId"])

    # --- activities ----------------------------------------------------------------------

    def _run_activity(self, work: dict) -> None:
        name = work["name"]
        fn = self.activities.get(name)
        try:
            if fn is None:
                raise LookupError(f"The function '{name}' doesn't exist, is disabled, or is "
                                  "not an activity function.")
            value = fn(decode_activity_input(work["input"]))
            msg = core.message("TaskCompleted", work["executionId"], taskId=work["taskId"],
                               result=encode_activity_output(value))
        except Exception as exc:
            log.warning("durable: activity %s of %s failed: %s", name, work["instanceId"], exc)
            reason, details = activity_failure(name, exc)
            msg = core.message("TaskFailed", work["executionId"], taskId=work["taskId"],
                               reason=reason, details=details)
        self._persistently(self.deliver, work["instanceId"], msg)

    # --- timers --------------------------------------------------------------------------

    def _arm(self, t: dict) -> None:
        with self._timer_cv:
            heapq.heappush(self._timers, (parse_iso(t["fireAt"]), next(self._timer_seq), t))
            self._timer_cv.notify()

    def _timer_loop(self) -> None:
        while not self._stopping.is_set():
            with self._timer_cv:
                if not self._timers:
                    self._timer_cv.wait(1.0)
                    continue
                fire_at, _, t = self._timers[0]
                wait = (fire_at - now_utc()).total_seconds()
                if wait > 0:
                    self._timer_cv.wait(min(wait, 1.0))
                    continue
                heapq.heappop(self._timers)
            try:
                self.deliver(t["instanceId"], core.message(
                    "TimerFired", t["executionId"], timerId=t["timerId"]))
            except Exception as exc:
                log.warning("durable: could not deliver a timer to %s (%s); retrying",
                            t["instanceId"], exc)
                time.sleep(0.5)
                self._arm(t)

    # --- records -------------------------------------------------------------------------

    @contextmanager
    def _lock(self, instance_id: str):
        """Hold the instance's lock. The lock exists only while someone holds or waits for
        it: a table of one lock per instance ever seen (each status query and sealer
        window adds one) would grow for as long as the host runs."""
        with self._glock:
            entry = self._locks.get(instance_id)
            if entry is None:
                entry = self._locks[instance_id] = [threading.RLock(), 0]
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._glock:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[instance_id]

    def _load(self, instance_id: str) -> dict | None:
        return self._load_with_etag(instance_id)[0]

    def _load_with_etag(self, instance_id: str) -> tuple[dict | None, str | None]:
        cached = self._cache.get(instance_id)
        if cached is not None:
            return cached
        rec, etag = self.store.load(instance_id)
        # A finished instance is read from storage each time it is asked for: caching it
        # would keep every instance ever run in memory (status queries, late events).
        if rec is not None and rec["runtimeStatus"] not in core.TERMINAL:
            self._cache[instance_id] = (rec, etag)
        return rec, etag

    def _save(self, rec: dict, etag: str | None) -> None:
        try:
            new_etag = self.store.save(rec, etag)
        except Exception:
            self._cache.pop(rec["instanceId"], None)  # re-read the stored truth next time
            raise
        self._cache[rec["instanceId"]] = (rec, new_etag)
