"""Runs pipelines the way Data Factory does, closely enough for the app and its tests.

- A run is Queued until the pipeline's `concurrency` allows it, then InProgress, then
  Succeeded / Failed / Cancelled (Canceling in between).
- Activities start when their `dependsOn` conditions (Succeeded, Failed, Skipped, Completed;
  several conditions on one dependency = any of them, several dependencies = all) are met;
  when an upstream outcome rules an activity out it is Skipped (recorded as an activity run
  with status Skipped: an emulator choice so tests and the UI-less app can see it).
- The run's outcome follows ADF's leaf rule: every leaf activity is evaluated (a skipped
  leaf is replaced by its parents); the run succeeds only if all evaluated ones succeeded.
  A failed run's message is "Operation on target <activity> failed: <error>".
- `policy.timeout` (D.HH:MM:SS, default 12 h) and `policy.retry` /
  `retryIntervalInSeconds`; each try is its own activity run record.
- A run created with `referencePipelineRunId` (a rerun) has the reference run's parameters;
  parameters sent with it are ignored, as in Data Factory.
- Recovery runs (`isRecovery` + `referencePipelineRunId`) join the reference run's group;
  with `startFromFailure` activities that succeeded in the reference run are not run again
  (their outputs stay visible to expressions); with `startActivityName` only that activity
  and what depends on it run.
- After a restart, runs still InProgress resume: an activity whose process was lost is
  recorded Failed with an error saying so (and its orphaned process group killed), then
  retried if its policy allows.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
import uuid

from devstack.adf.activities import (
    ActivityCancelled,
    ActivityFailed,
    Attempt,
    BatchHost,
    kill_process_group,
    run_custom,
    run_fail,
    run_wait,
    run_web,
)
from devstack.adf.expressions import ExpressionError, Scope, evaluate_value
from devstack.adf.store import Store, iso, parse_iso, utcnow

log = logging.getLogger("devstack.adf")

TERMINAL = {"Succeeded", "Failed", "Cancelled"}
ACTIVE = {"InProgress", "Canceling"}
SUPPORTED_TYPES = ("Custom", "Wait", "WebActivity", "Fail", "SetVariable", "IfCondition",
                   "Until")
DEFAULT_TIMEOUT = "0.12:00:00"
LOST_CODE = "EmulatorRestarted"


class ApiError(Exception):
    """A request the ARM API would refuse: HTTP status, ARM error code, message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RunDefinitionError(Exception):
    """The pipeline definition cannot be executed as written (fails the run)."""


_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


def parse_timespan(text: str, what: str) -> float:
    """ADF timespans: `D.HH:MM:SS` or `HH:MM:SS`, in seconds."""
    m = _TIMESPAN.match(str(text).strip())
    if not m:
        raise ActivityFailed(f"{what} {text!r} is not a timespan like 0.01:30:00 (D.HH:MM:SS)")
    days, h, mi, s = (int(g or 0) for g in m.groups())
    return days * 86400 + h * 3600 + mi * 60 + s


def _param_default(spec: dict):
    return spec.get("defaultValue") if isinstance(spec, dict) else None


def resolve_parameters(pipeline: dict, given: dict) -> dict:
    """Run parameters: given values over the pipeline's defaults; a missing one is an error."""
    declared = pipeline.get("properties", {}).get("parameters") or {}
    values = dict(given or {})
    missing = []
    for name, spec in declared.items():
        if name in values:
            kind = str((spec or {}).get("type", "String")).lower()
            if kind in ("object", "array") and isinstance(values[name], str):
                try:
                    values[name] = json.loads(values[name])
                except ValueError:
                    pass
            continue
        if isinstance(spec, dict) and "defaultValue" in spec:
            values[name] = _param_default(spec)
        else:
            missing.append(name)
    if missing:
        raise ApiError(
            400, "BadRequest",
            f"Missing value for required pipeline parameter(s): {', '.join(sorted(missing))}",
        )
    return values


def _latest_records(records: list[dict]) -> dict[str, dict]:
    """The last try of each activity (records are appended in start order)."""
    latest: dict[str, dict] = {}
    for rec in records:
        latest[rec["activityName"]] = rec
    return latest


def _descendants(activities: list[dict], start: str) -> set[str]:
    found, frontier = {start}, [start]
    while frontier:
        current = frontier.pop()
        for a in activities:
            if a["name"] not in found and any(
                d.get("activity") == current for d in a.get("dependsOn") or []
            ):
                found.add(a["name"])
                frontier.append(a["name"])
    return found


def dependency_met(dep: dict, statuses: dict[str, str]) -> bool:
    status = statuses[dep["activity"]]
    for cond in dep.get("dependencyConditions") or ["Succeeded"]:
        if cond == status or (cond == "Completed" and status in ("Succeeded", "Failed")):
            return True
    return False


def block_outcome(activities: list[dict], statuses: dict[str, str]) -> tuple[bool, list[str]]:
    """ADF's leaf rule: (succeeded?, names of the failed activities that decided it)."""
    by_name = {a["name"]: a for a in activities}
    upstream = {d.get("activity") for a in activities for d in a.get("dependsOn") or []}
    failed: list[str] = []

    def ok(name: str, seen: frozenset) -> bool:
        status = statuses.get(name)
        if status == "Skipped":
            parents = [d["activity"] for d in by_name[name].get("dependsOn") or []]
            return all([ok(p, seen | {name}) for p in parents if p not in seen])
        if status in ("Failed", "Cancelled"):
            if name not in failed:
                failed.append(name)
            return False
        return status == "Succeeded"

    results = [ok(a["name"], frozenset()) for a in activities if a["name"] not in upstream]
    return all(results), failed


class Engine:
    """Owns every run's execution thread; the HTTP layer calls in here."""

    def __init__(self, store: Store, host: BatchHost):
        self.store, self.host = store, host
        self.executions: dict[str, RunExecution] = {}

    # --- API operations ------------------------------------------------------------------
    def create_run(self, key: str, factory_name: str, pipeline_name: str, parameters: dict,
                   reference_run_id: str | None = None, is_recovery: bool = False,
                   start_activity_name: str | None = None,
                   start_from_failure: bool = False) -> dict:
        pipeline = self.store.get_resource(key, "pipelines", pipeline_name)
        if pipeline is None:
            raise ApiError(404, "PipelineNotFound", f"Pipeline '{pipeline_name}' not found")
        ref = None
        if reference_run_id:
            ref = self.store.runs.get(reference_run_id)
            if ref is None or ref["factory"] != key:
                raise ApiError(
                    404, "PipelineRunNotFound",
                    f"Reference pipeline run '{reference_run_id}' not found",
                )
        elif start_from_failure or start_activity_name or is_recovery:
            raise ApiError(
                400, "BadRequest",
                "referencePipelineRunId is required for isRecovery, startFromFailure and "
                "startActivityName",
            )
        names = [a["name"] for a in pipeline["properties"].get("activities") or []]
        if start_activity_name and start_activity_name not in names:
            raise ApiError(
                400, "BadRequest",
                f"startActivityName '{start_activity_name}' is not a top-level activity of "
                f"pipeline '{pipeline_name}'",
            )
        # Pipelines - Create Run (learn.microsoft.com/rest/api/datafactory/pipelines/create-run),
        # `referencePipelineRunId`: "If run ID is specified the parameters of the specified
        # run will be used to create a new run." So a rerun runs with the reference run's
        # parameters; parameters sent with it are ignored.
        given = dict(ref["parameters"]) if ref else dict(parameters or {})
        if ref and parameters:
            log.info("run of %s with reference run %s: the parameters sent (%s) are ignored",
                     pipeline_name, reference_run_id, ", ".join(sorted(parameters)))
        values = resolve_parameters(pipeline, given)
        now = utcnow()
        run_id = str(uuid.uuid4())
        with self.store.lock:
            group = run_id
            if ref is not None and is_recovery:
                group = ref["runGroupId"]
                for other in self.store.runs.values():
                    if other["runGroupId"] == group and other["isLatest"]:
                        other["isLatest"] = False
                        self.store.save_run(other)
            run = {
                "factory": key, "factoryName": factory_name,
                "runId": run_id, "runGroupId": group, "isLatest": True,
                "pipelineName": pipeline["name"], "parameters": values,
                "invokedBy": {"name": "Manual", "id": uuid.uuid4().hex,
                              "invokedByType": "Manual"},
                "runStart": iso(now), "runEnd": None, "durationInMs": None,
                "status": "Queued", "message": "",
                "definition": pipeline, "variables": None, "activityRuns": [],
                "recovery": {
                    "referenceRunId": reference_run_id, "isRecovery": bool(is_recovery),
                    "startFromFailure": bool(start_from_failure),
                    "startActivityName": start_activity_name,
                } if reference_run_id else None,
            }
            self.store.save_run(run)
        log.info("run %s of %s created (recovery of %s)", run_id, pipeline_name, reference_run_id)
        self.dispatch(key, pipeline["name"])
        return run

    def cancel(self, key: str, run_id: str) -> None:
        with self.store.lock:
            run = self.get_run(key, run_id)
            status = run["status"]
            if status in TERMINAL:
                raise ApiError(
                    400, "BadRequest",
                    f"Pipeline run '{run_id}' has already finished with status {status} "
                    "and cannot be cancelled",
                )
            if status == "Queued":
                self._finish_run(run, "Cancelled", "Cancelled while queued")
                return
            if status == "InProgress":
                run["status"] = "Canceling"
                self.store.save_run(run)
            execution = self.executions.get(run_id)
        if execution is not None:
            execution.cancel.set()

    def get_run(self, key: str, run_id: str) -> dict:
        run = self.store.runs.get(run_id)
        if run is None or run["factory"] != key:
            raise ApiError(404, "PipelineRunNotFound", f"Pipeline run '{run_id}' not found")
        return run

    # --- scheduling ----------------------------------------------------------------------
    def dispatch(self, key: str, pipeline_name: str) -> None:
        """Start queued runs of a pipeline, oldest first, as far as `concurrency` allows."""
        with self.store.lock:
            runs = [r for r in self.store.runs_of(key)
                    if r["pipelineName"].lower() == pipeline_name.lower()]
            current = self.store.get_resource(key, "pipelines", pipeline_name)
            limit = (current or {}).get("properties", {}).get("concurrency")
            active = sum(1 for r in runs if r["status"] in ACTIVE)
            queued = sorted((r for r in runs if r["status"] == "Queued"),
                            key=lambda r: (r["runStart"], r["runId"]))
            for run in queued:
                if limit and active >= int(limit):
                    break
                if run["runId"] in self.executions:
                    continue
                active += 1
                self._start(run, resume=False)

    def _start(self, run: dict, resume: bool) -> None:
        execution = RunExecution(self, run, resume)
        self.executions[run["runId"]] = execution
        execution.start()

    def _finish_run(self, run: dict, status: str, message: str = "") -> None:
        with self.store.lock:
            now = utcnow()
            run["status"], run["message"] = status, message
            run["runEnd"] = iso(now)
            run["durationInMs"] = int((now - parse_iso(run["runStart"])).total_seconds() * 1000)
            self.store.save_run(run)
        log.info("run %s of %s: %s %s", run["runId"], run["pipelineName"], status, message)

    def finished(self, run: dict) -> None:
        with self.store.lock:
            self.executions.pop(run["runId"], None)
        self.dispatch(run["factory"], run["pipelineName"])

    # --- restart ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop as a restart would: freeze the state on disk and kill activity processes;
        the next start resumes the runs (lost activities retried per policy)."""
        with self.store.lock:
            self.store.freeze()
            for run in self.store.runs.values():
                for rec in run["activityRuns"]:
                    if rec["status"] == "InProgress" and rec.get("_pid"):
                        kill_process_group(rec["_pid"], rec.get("_pidStart"))

    def recover(self) -> None:
        """Pick up where a previous emulator process stopped (see the module docstring)."""
        pipelines = set()
        with self.store.lock:
            for run in list(self.store.runs.values()):
                if run["status"] not in ACTIVE:
                    if run["status"] == "Queued":
                        pipelines.add((run["factory"], run["pipelineName"]))
                    continue
                for rec in run["activityRuns"]:
                    if rec["status"] in ("InProgress", "Queued"):
                        self._mark_lost(rec)
                self.store.save_run(run)
                if run["status"] == "Canceling":
                    self._finish_run(run, "Cancelled", "")
                else:
                    log.info("run %s: resuming after an emulator restart", run["runId"])
                    self._start(run, resume=True)
        for key, name in pipelines:
            self.dispatch(key, name)

    def _mark_lost(self, rec: dict) -> None:
        if rec.get("_pid"):
            kill_process_group(rec["_pid"], rec.get("_pidStart"))
        now = utcnow()
        rec.update(
            status="Failed", activityRunEnd=iso(now), _lost=True, _pid=None,
            durationInMs=int((now - parse_iso(rec["activityRunStart"])).total_seconds() * 1000),
            error={
                "errorCode": LOST_CODE, "failureType": "SystemError",
                "target": rec["activityName"], "details": "",
                "message": "The local Data Factory emulator restarted while this activity was "
                           "running; its process was lost",
            },
        )


class RunExecution(threading.Thread):
    """One pipeline run, executed on its own thread."""

    def __init__(self, engine: Engine, run: dict, resume: bool):
        super().__init__(name=f"adf-run-{run['runId'][:8]}", daemon=True)
        self.engine, self.store, self.run_doc, self.resume = engine, engine.store, run, resume
        self.cancel = threading.Event()
        self.outputs: dict[str, object] = {}
        self._ran: set[str] = set()  # activities this thread has run (Until runs them again)
        props = run["definition"].get("properties", {})
        if run.get("variables") is None:
            run["variables"] = {
                k: _param_default(v) for k, v in (props.get("variables") or {}).items()
            }
        self.scope = Scope(
            pipeline={
                "RunId": run["runId"], "Pipeline": run["pipelineName"],
                "DataFactory": run["factoryName"], "GroupId": run["runGroupId"],
                "TriggerTime": run["runStart"], "TriggerType": "Manual",
                "TriggerName": "Manual", "TriggerId": run["invokedBy"]["id"],
            },
            parameters=run["parameters"],
            variables=run["variables"],
            activity_output=lambda name: self.outputs[name],
        )

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        doc = self.run_doc
        try:
            with self.store.lock:
                if doc["status"] == "Queued":
                    doc["status"] = "InProgress"
                    self.store.save_run(doc)
            activities = doc["definition"]["properties"].get("activities") or []
            statuses = self.execute_block(activities, self._carried_over(activities))
            if self.cancel.is_set():
                self.engine._finish_run(doc, "Cancelled", "")
                return
            ok, failed = block_outcome(activities, statuses)
            if ok:
                self.engine._finish_run(doc, "Succeeded", "")
            else:
                self.engine._finish_run(doc, "Failed", self._failure_message(failed))
        except RunDefinitionError as exc:
            self.engine._finish_run(doc, "Failed", str(exc))
        except Exception as exc:  # an emulator bug must still end the run, never hang it
            log.exception("run %s: emulator error", doc["runId"])
            self.engine._finish_run(doc, "Failed", f"Local emulator error: {exc}")
        finally:
            self.engine.finished(doc)

    def _failure_message(self, failed: list[str]) -> str:
        latest = _latest_records(self.run_doc["activityRuns"])
        recs = [latest[n] for n in failed if n in latest]
        recs.sort(key=lambda r: r.get("activityRunEnd") or "")
        if not recs:
            return "Pipeline failed"
        first = recs[0]
        message = (first.get("error") or {}).get("message") or first["status"]
        return f"Operation on target {first['activityName']} failed: {message}"

    def _carried_over(self, activities: list[dict]) -> dict[str, str]:
        """Statuses (and outputs) taken as given instead of run: recovery and restart."""
        carried: dict[str, str] = {}
        if self.resume:
            for name, rec in _latest_records(self.run_doc["activityRuns"]).items():
                if any(a["name"] == name for a in activities) and not rec.get("_lost"):
                    carried[name] = rec["status"]
                    if rec["status"] == "Succeeded":
                        self.outputs[name] = rec.get("output")
        recovery = self.run_doc.get("recovery")
        if not recovery or not recovery.get("isRecovery"):
            return carried
        ref = self.store.runs.get(recovery["referenceRunId"]) or {"activityRuns": []}
        previous = dict(ref.get("_carried") or {})
        previous.update(_latest_records(ref["activityRuns"]))
        if recovery.get("startActivityName"):
            rerun = _descendants(activities, recovery["startActivityName"])
        elif recovery.get("startFromFailure"):
            rerun = {a["name"] for a in activities
                     if (previous.get(a["name"]) or {}).get("status") != "Succeeded"}
        else:
            rerun = {a["name"] for a in activities}
        kept = {}
        for a in activities:
            rec = previous.get(a["name"])
            if a["name"] not in rerun and rec is not None:
                carried.setdefault(a["name"], rec["status"])
                if rec["status"] == "Succeeded":
                    self.outputs[a["name"]] = rec.get("output")
                kept[a["name"]] = {k: rec.get(k) for k in ("activityName", "status", "output")}
        with self.store.lock:
            self.run_doc["_carried"] = kept  # so a rerun of this rerun sees them too
            self.store.save_run(self.run_doc)
        return carried

    # --- blocks of activities (the pipeline, or a container's inner list) ----------------
    def execute_block(self, activities: list[dict], carried: dict[str, str] | None = None
                      ) -> dict[str, str]:
        names = [a.get("name") for a in activities]
        if len(set(names)) != len(names) or not all(names):
            raise RunDefinitionError("activity names must be present and unique")
        for a in activities:
            for d in a.get("dependsOn") or []:
                if d.get("activity") not in names:
                    raise RunDefinitionError(
                        f"activity '{a['name']}' depends on '{d.get('activity')}', which is "
                        "not in the same list of activities"
                    )
        statuses: dict[str, str] = dict(carried or {})
        running: dict[str, threading.Thread] = {}
        done: dict[str, str] = {}
        cond = threading.Condition()

        def work(activity: dict) -> None:
            status = self.run_activity(activity)
            with cond:
                done[activity["name"]] = status
                cond.notify_all()

        while len(statuses) < len(activities):
            progressed = False
            for a in activities:
                name = a["name"]
                if name in statuses or name in running or self.cancel.is_set():
                    continue
                deps = a.get("dependsOn") or []
                if any(d["activity"] not in statuses for d in deps):
                    continue
                if all(dependency_met(d, statuses) for d in deps):
                    thread = threading.Thread(target=work, args=(a,), daemon=True)
                    running[name] = thread
                    thread.start()
                else:
                    self._record(a, "Skipped")
                    statuses[name] = "Skipped"
                progressed = True
            if len(statuses) == len(activities):
                break
            if not running:
                if self.cancel.is_set():
                    break
                if not progressed:
                    raise RunDefinitionError(
                        "activities depend on each other in a cycle: "
                        + ", ".join(n for n in names if n not in statuses)
                    )
                continue
            with cond:
                cond.wait_for(lambda: bool(done), timeout=0.5)
                finished, _ = dict(done), done.clear()
            for name, status in finished.items():
                statuses[name] = status
                running.pop(name).join()
        return statuses

    # --- one activity, with its policy ----------------------------------------------------
    def run_activity(self, activity: dict) -> str:
        name, policy = activity["name"], activity.get("policy") or {}
        try:
            retries = int(policy.get("retry") or 0)
            interval = float(policy.get("retryIntervalInSeconds", 30))
            timeout_text = policy.get("timeout") or DEFAULT_TIMEOUT
            if activity.get("type") == "Until":
                timeout_text = activity.get("typeProperties", {}).get("timeout") or timeout_text
            timeout = parse_timespan(timeout_text, f"timeout of activity '{name}'")
        except (ActivityFailed, TypeError, ValueError) as exc:
            self._record(activity, "Failed", error=self._error(name, f"invalid policy: {exc}"))
            return "Failed"
        if name in self._ran:  # again, in a later iteration of an Until: tries start afresh
            tries = 0
        else:
            tries = sum(1 for r in self.run_doc["activityRuns"] if r["activityName"] == name)
            if tries > retries:  # resumed after a restart with no tries left
                return "Failed"
            self._ran.add(name)
        while True:
            tries += 1
            rec = self._record(activity, "InProgress")
            attempt = Attempt(
                activity_run_id=rec["activityRunId"], cancel=self.cancel,
                deadline=time.monotonic() + timeout, timeout_text=timeout_text,
                record_process=lambda pid, start, rec=rec: self._set_process(rec, pid, start),
            )
            retryable = True
            try:
                output = self._execute(activity, attempt, rec)
                self.outputs[name] = output
                self._finish(rec, "Succeeded", output=output)
                return "Succeeded"
            except ActivityCancelled:
                self._finish(rec, "Cancelled", error=self._error(
                    name, "Activity was cancelled because its pipeline run was cancelled",
                    code="Cancelled"))
                return "Cancelled"
            except ActivityFailed as exc:
                self._finish(rec, "Failed", error=self._error(
                    name, exc.message, exc.code, exc.failure_type))
            except (ExpressionError, RunDefinitionError) as exc:
                retryable = False  # the same definition would fail the same way
                self._finish(rec, "Failed", error=self._error(name, str(exc), "BadRequest"))
            except Exception as exc:
                log.exception("activity %s: emulator error", name)
                self._finish(rec, "Failed", error=self._error(
                    name, f"Local emulator error: {type(exc).__name__}: {exc}",
                    "InternalError", "SystemError"))
            if not retryable or tries > retries or self.cancel.is_set():
                return "Failed"
            log.info("activity %s failed; retry %d of %d in %ss", name, tries, retries, interval)
            if self.cancel.wait(interval):
                return "Failed"

    def _execute(self, activity: dict, attempt: Attempt, rec: dict):
        kind = activity.get("type")
        if kind == "SetVariable":
            return self._set_variable(activity)
        if kind == "IfCondition":
            return self._if_condition(activity, attempt)
        if kind == "Until":
            return self._until(activity, attempt)
        if kind not in ("Custom", "Wait", "WebActivity", "Fail"):
            raise ActivityFailed(
                f"Activity type '{kind}' (activity '{activity['name']}') is not supported by the "
                f"local Data Factory emulator; supported types: {', '.join(SUPPORTED_TYPES)}",
                code="UnsupportedActivityType",
            )
        evaluated = evaluate_value(activity, self.scope)
        with self.store.lock:
            rec["input"] = evaluated.get("typeProperties", {})
            self.store.save_run(self.run_doc)
        if kind == "Wait":
            return run_wait(evaluated, attempt)
        if kind == "WebActivity":
            return run_web(evaluated, attempt)
        if kind == "Fail":
            return run_fail(evaluated, attempt)
        linked, datasets = self._references(evaluated)
        return run_custom(evaluated, attempt, self.engine.host, linked, datasets)

    def _references(self, activity: dict) -> tuple[list[dict], list[dict]]:
        key = self.run_doc["factory"]
        tp = activity.get("typeProperties", {})

        def resolve(kind: str, ref: dict, what: str) -> dict:
            name = (ref or {}).get("referenceName")
            found = self.store.get_resource(key, kind, str(name)) if name else None
            if found is None:
                raise ActivityFailed(f"{what} '{name}' of activity '{activity['name']}' is not "
                                     "deployed to the factory")
            return {"name": found["name"], "properties": found["properties"]}

        if activity.get("linkedServiceName"):
            resolve("linkedservices", activity["linkedServiceName"], "linked service")
        if tp.get("folderPath"):
            if not tp.get("resourceLinkedService"):
                raise ActivityFailed("folderPath is set but resourceLinkedService is not")
            resolve("linkedservices", tp["resourceLinkedService"], "resourceLinkedService")
        refs = tp.get("referenceObjects") or {}
        linked = [resolve("linkedservices", r, "referenced linked service")
                  for r in refs.get("linkedServices") or []]
        datasets = [resolve("datasets", r, "referenced dataset") for r in refs.get("datasets") or []]
        return linked, datasets

    # --- control flow -----------------------------------------------------------------------
    def _set_variable(self, activity: dict):
        tp = activity.get("typeProperties", {})
        name = tp.get("variableName")
        if name not in self.scope.variables:
            raise ActivityFailed(f"SetVariable '{activity['name']}' sets undeclared variable "
                                 f"'{name}'")
        value = evaluate_value(tp.get("value"), self.scope)
        with self.store.lock:
            self.scope.variables[name] = value
            self.store.save_run(self.run_doc)
        return {"name": name, "value": value}

    def _inner(self, activities: list[dict], container: str) -> None:
        statuses = self.execute_block(activities)
        if self.cancel.is_set():
            raise ActivityCancelled()
        ok, failed = block_outcome(activities, statuses)
        if not ok:
            latest = _latest_records(self.run_doc["activityRuns"])
            inner = failed[0] if failed else "?"
            message = ((latest.get(inner) or {}).get("error") or {}).get("message", "")
            raise ActivityFailed(
                f"Activity failed because an inner activity failed; inner activity name: "
                f"{inner}, error: {message}"
            )

    def _condition(self, activity: dict) -> bool:
        value = evaluate_value(activity.get("typeProperties", {}).get("expression"), self.scope)
        if not isinstance(value, bool):
            raise ActivityFailed(
                f"expression of '{activity['name']}' gave {value!r}, not a boolean"
            )
        return value

    def _if_condition(self, activity: dict, attempt: Attempt):
        tp = activity.get("typeProperties", {})
        result = self._condition(activity)
        branch = tp.get("ifTrueActivities" if result else "ifFalseActivities") or []
        self._inner(branch, activity["name"])
        return {"expressionResult": result}

    def _until(self, activity: dict, attempt: Attempt):
        inner = activity.get("typeProperties", {}).get("activities") or []
        iterations = 0
        while True:
            attempt.check()
            self._inner(inner, activity["name"])
            iterations += 1
            if self._condition(activity):
                return {"iterations": iterations}

    # --- activity run records ----------------------------------------------------------------
    def _error(self, name: str, message: str, code: str = "UserError",
               failure_type: str = "UserError") -> dict:
        return {"errorCode": code, "message": message, "failureType": failure_type,
                "target": name, "details": ""}

    def _record(self, activity: dict, status: str, error: dict | None = None) -> dict:
        now = iso(utcnow())
        rec = {
            "activityRunId": str(uuid.uuid4()), "activityName": activity["name"],
            "activityType": activity.get("type"),
            "linkedServiceName": (activity.get("linkedServiceName") or {}).get("referenceName"),
            "status": status, "activityRunStart": now,
            "activityRunEnd": None if status == "InProgress" else now,
            "durationInMs": None if status == "InProgress" else 0,
            "input": {}, "output": None, "error": error,
            "retryAttempt": None, "_pid": None, "_pidStart": None,
        }
        with self.store.lock:
            previous = [r for r in self.run_doc["activityRuns"]
                        if r["activityName"] == activity["name"]]
            rec["retryAttempt"] = len(previous) or None
            self.run_doc["activityRuns"].append(rec)
            self.store.save_run(self.run_doc)
        return rec

    def _set_process(self, rec: dict, pid: int, start: int | None) -> None:
        with self.store.lock:
            rec["_pid"], rec["_pidStart"] = pid or None, start
            self.store.save_run(self.run_doc)

    def _finish(self, rec: dict, status: str, output=None, error: dict | None = None) -> None:
        now = utcnow()
        with self.store.lock:
            rec.update(status=status, output=output, error=error, activityRunEnd=iso(now),
                       durationInMs=int((now - parse_iso(rec["activityRunStart"]))
                                        / dt.timedelta(milliseconds=1)))
            self.store.save_run(self.run_doc)
