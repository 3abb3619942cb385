"""Run orchestrations through `core.step` in memory, with a simulated clock: timers fire
as soon as nothing else is left to do. For fast tests of the engine's semantics and for
the replay benchmark; the real runtime is `engine.py`."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from devstack.host.durable import core
from devstack.host.durable.history import parse_iso
from devstack.host.invoke import activity_failure, decode_activity_input, encode_activity_output


class Simulator:
    def __init__(self, orchestrators: dict[str, Callable], activities: dict[str, Callable],
                 start: datetime):
        self.orchestrators = orchestrators
        self.activities = activities
        self.now = start
        self.records: dict[str, dict] = {}
        self.timers: list[dict] = []
        self.work: list[dict] = []
        self.step_seconds: list[float] = []  # wall time of each episode, for the benchmark
        self.activity_runs: dict[str, int] = {}

    def start(self, name: str, instance_id: str, input_value=None) -> dict:
        rec = core.new_instance(instance_id, name, input_value, self.now)
        self.records[instance_id] = rec
        return rec

    def run(self, max_episodes: int = 100_000, fire_timers: bool = True,
            until: datetime | None = None) -> None:
        """Run until nothing is left: episodes first, then activities, then the next timer
        (unless `fire_timers` is False, or the next timer is due after `until`: then stop
        where only timers are left)."""
        import time

        for _ in range(max_episodes):
            ready = [r for r in self.records.values() if r["inbox"] or
                     r["runtimeStatus"] == "Pending"]
            if ready:
                rec = ready[0]
                t0 = time.perf_counter()
                eff = core.step(rec, self.now, self.orchestrators)
                self.step_seconds.append(time.perf_counter() - t0)
                self._apply(eff, rec)
                continue
            if self.work:
                self._run_activity(self.work.pop(0))
                continue
            live = [t for t in self.timers if self._timer_live(t)]
            self.timers = live
            live.sort(key=lambda t: parse_iso(t["fireAt"]))
            if live and fire_timers and (until is None or parse_iso(live[0]["fireAt"]) <= until):
                t = live.pop(0)
                self.now = max(self.now, parse_iso(t["fireAt"])) + timedelta(milliseconds=1)
                self.records[t["instanceId"]]["inbox"].append(
                    core.message("TimerFired", t["executionId"], timerId=t["timerId"]))
                continue
            return
        raise RuntimeError("simulation did not settle")

    def raise_event(self, instance_id: str, name: str, value) -> None:
        self.records[instance_id]["inbox"].append(
            core.message("EventRaised", name=name, input=json.dumps(value)))

    def _timer_live(self, t) -> bool:
        rec = self.records[t["instanceId"]]
        return (rec["executionId"] == t["executionId"]
                and str(t["timerId"]) in rec["outstanding"]["timers"])

    def _apply(self, eff: core.Effects, rec: dict) -> None:
        self.work.extend(eff.activities)
        self.timers.extend(eff.timers)
        for child in eff.children:
            self.records[child["instanceId"]] = core.new_instance(
                child["instanceId"], child["name"], child["input"], self.now,
                parent=child["parent"])
        for target, msg in eff.notify:
            self.records[target]["inbox"].append(msg)
        if eff.rerun:
            rec["inbox"].append(core.message("Continue", rec["executionId"]))

    def _run_activity(self, w: dict) -> None:
        name = w["name"]
        self.activity_runs[name] = self.activity_runs.get(name, 0) + 1
        rec = self.records[w["instanceId"]]
        try:
            value = self.activities[name](decode_activity_input(w["input"]))
            msg = core.message("TaskCompleted", w["executionId"], taskId=w["taskId"],
                               result=encode_activity_output(value))
        except Exception as exc:
            reason, details = activity_failure(name, exc)
            msg = core.message("TaskFailed", w["executionId"], taskId=w["taskId"],
                               reason=reason, details=details)
        rec["inbox"].append(msg)
