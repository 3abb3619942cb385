"""The I/O behind the `pipeline_run` orchestrator's activities. Each is idempotent: Durable
may run an activity more than once (a retry, a host restart), and running it again
changes nothing. Each takes the `Services` its entry point built, then its payload."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from shared.adf.client import RUN_LOOKBACK_HOURS
from shared.checks.profile import PREDICTIONS
from shared.landing.batch import Batch
from shared.landing.detection import Detector
from shared.markers import newest_predictions, raise_marker
from shared.reporting import record_finished_run
from shared.runs import endpoint
from shared.runs.ml_layout import CODE_POINTER
from shared.runs.records import RunRecords

log = logging.getLogger(__name__)

START_CLOCK_SKEW = timedelta(minutes=10)  # the app's clock against Data Factory's

def resolve_code_version(services) -> str:
    """CODE_VERSION, or for `latest` the version `training.package` last uploaded."""
    s = services.settings
    if s.code_version != "latest":
        return s.code_version
    pointer, _ = services.ml.read_json(CODE_POINTER)
    if not pointer:
        raise RuntimeError(f"CODE_VERSION is latest but {s.ml_container}/{CODE_POINTER} does "
                           "not exist: upload the training package first")
    return pointer["version"]


def pipeline_for(mode: str, settings, target: str = endpoint.BATCH, feed=None) -> str:
    """The ADF pipeline of a run: the feed's for its mode (default: the settings'), or the
    endpoint scoring pipeline for a score run on the Azure ML endpoint."""
    if mode != "train-and-score" and target == endpoint.ENDPOINT:
        return settings.adf_endpoint_score_pipeline
    if feed is not None:
        return feed.pipeline_for(mode)
    return settings.adf_train_pipeline if mode == "train-and-score" else settings.adf_score_pipeline


def default_train_options(feed, settings) -> dict:
    """TRAIN_OPTIONS are the default feed's program's options; another feed's programs start
    from their own defaults (a request's `trainOptions` still applies)."""
    return json.loads(settings.train_options) if feed.is_default else {}


def begin_run(services, payload: dict) -> dict:
    """Record the run as started, take its batch off the pending list, and plan the ADF run."""
    s = services.settings
    batch, instance_id = Batch.model_validate(payload["batch"]), payload["instanceId"]
    feed = services.feeds.get(batch.feed)
    options = batch.trainOptions if batch.trainOptions is not None else default_train_options(
        feed, s)
    records = RunRecords(services.state)
    # A rerun runs with its failed run's parameters (Data Factory takes a rerun's from its
    # reference run), so its record keeps the code version that run used, not today's.
    existing = records.get(batch.batchId)
    code = (existing or {}).get("codeVersion") if batch.rerunOf else None
    parameters = {
        "batchId": batch.batchId, "manifestPath": batch.manifestPath,
        "codeVersion": code or resolve_code_version(services), "mode": batch.mode,
        "mlContainer": s.ml_container, "trainOptions": json.dumps(options),
    }
    target = endpoint.score_target(batch, s)
    pipeline = pipeline_for(batch.mode, s, target, feed)
    scoring = {"scoreTarget": target}
    if target == endpoint.ENDPOINT:
        parameters.update(endpoint.pipeline_parameters(batch.batchId, s))
        # this orchestration's job and output (its last ADF run's), once the run ends
        scoring.update(endpointOutputPath=None, endpointJob=None)
    records.update(batch.batchId, {
        # a new record: no ADF start tried yet (`start_adf_run`); an existing one keeps its own
        **({"adfStartTriedAt": None} if existing is None else {}),
        **batch.run_fields(), "pipeline": pipeline, "instanceId": instance_id,
        "status": "running", "codeVersion": parameters["codeVersion"], "trainOptions": options,
        "startedAt": datetime.now(UTC).isoformat(), **scoring,
    })
    Detector(services).mark_started(batch.batchId)
    log.info("batch %s: run %s begins (%s, pipeline %s)", batch.batchId, instance_id,
             batch.mode, pipeline)
    return {
        "pipeline": pipeline, "parameters": parameters,
        "pollSeconds": s.poll_interval_seconds, "maxPollSeconds": s.poll_max_interval_seconds,
        "timeoutSeconds": batch.timeoutSeconds or s.run_timeout_seconds,
        "maxReruns": s.max_reruns if batch.maxReruns is None else batch.maxReruns,
        "pollsPerGeneration": s.polls_per_generation,
        "tracking": s.run_tracking, "safetyNetSeconds": s.run_safety_net_seconds,
    }


def start_adf_run(services, payload: dict) -> dict:
    """Start the batch's ADF run exactly once. Write-ahead: the record says when a start was
    first tried (`adfStartTriedAt`, None from `begin_run` until then), so the first try
    creates without looking (a look reads every run of the pipeline in its window), and a
    retry, which may follow a create ADF accepted, looks back only to that moment. A record
    written before this field existed looks back the whole RUN_LOOKBACK_HOURS."""
    records, batch_id = RunRecords(services.state), payload["batchId"]
    record = records.get(batch_id) or {}
    look: dict = {}
    if "adfStartTriedAt" in record:
        tried = record["adfStartTriedAt"]
        if tried is None:
            tried = datetime.now(UTC).isoformat()
            records.update(batch_id, {"adfStartTriedAt": tried})
            look["first_try"] = True
        since = datetime.fromisoformat(tried) - START_CLOCK_SKEW
        look["lookback_hours"] = (datetime.now(UTC) - since).total_seconds() / 3600
    started = services.adf.start_run(payload["pipeline"], batch_id, payload["parameters"],
                                     **look)
    records.add_adf_run(batch_id, started["runId"])
    log.info("batch %s: ADF run %s (%s)", payload["batchId"], started["runId"],
             "created" if started["created"] else "already existed")
    return started


def _existing_rerun(adf, pipeline: str, run_id: str) -> dict | None:
    """A recovery run of `run_id` that already exists: same run group, started after it
    ended. Found when this activity runs again after ADF had accepted the rerun."""
    failed = adf.run_status(run_id)
    after = str(failed.get("runEnd") or failed.get("runStart") or "")
    for run in adf.query_runs(RUN_LOOKBACK_HOURS, pipeline=pipeline):
        if (run.get("runGroupId") == failed.get("runGroupId") and run["runId"] != run_id
                and str(run.get("runStart") or "") > after):
            return {"runId": run["runId"]}
    return None


def rerun_adf_run(services, payload: dict) -> dict:
    adf = services.adf
    again = _existing_rerun(adf, payload["pipeline"], payload["runId"])
    if again is None:
        outputs = adf.run_status(payload["runId"]).get("outputs") or {}
        again = adf.rerun_from_failure(
            payload["pipeline"], payload["runId"],
            start_activity=endpoint.rerun_start(payload["pipeline"], outputs, services.settings))
    RunRecords(services.state).add_adf_run(payload["batchId"], again["runId"])
    log.info("batch %s: rerun of ADF run %s from failure is %s", payload["batchId"],
             payload["runId"], again["runId"])
    return again


def _run_id(run: dict | str) -> str:
    """The ADF run an activity is about: `{batchId, instanceId, runId}`, or the bare run id
    that orchestrations started before the ids were added still send."""
    return run if isinstance(run, str) else run["runId"]


def get_adf_run_status(services, run: dict | str) -> dict:
    """The run's status, with how much to slow down while ARM's read budget is low."""
    adf = services.adf
    return {**adf.run_status(_run_id(run)),
            "slowdown": adf.budget.slowdown(services.settings.arm_reads_low)}


def cancel_adf_run(services, run: dict | str) -> dict:
    services.adf.cancel(_run_id(run))
    return services.adf.run_status(_run_id(run))


def finish_run(services, result: dict) -> dict:
    """Record the finished run, then judge it (checks and alerts)."""
    from shared.runs.evaluation import evaluate_finished_run

    records = RunRecords(services.state)
    before = records.get(result["batchId"]) or {}
    job = endpoint.endpoint_job(result.get("outputs", {}))
    if job is not None:
        result = {**result, "endpointJob": job}
    if before.get("scoreTarget") == endpoint.ENDPOINT and result["adfRunIds"]:
        # where the last ADF run (the one whose outcome this is) had its job write
        result = {**result, "endpointOutputPath": endpoint.output_path(
            result["batchId"], result["adfRunIds"][-1])}
    score = endpoint.score_output(services.ml, {**before, **result})
    if score is not None:  # the endpoint wrote predictions only: the glue summarises them
        result = {**result, "outputs": {**result.get("outputs", {}), "Score": score}}
    # A rerun's orchestration knows only its own ADF runs: keep the earlier ones too.
    result = {**result, "adfRunIds": list(dict.fromkeys(
        [*before.get("adfRunIds", []), *result["adfRunIds"]]))}
    try:
        feed = services.feeds.get(before.get("feed"))
    except KeyError as exc:  # its feed left the feeds file mid-run: record it, unjudged
        log.warning("batch %s: not judged: %s", result["batchId"], exc.args[0])
        judged = {"checks": [], "alerts": [], "notJudged": exc.args[0]}
    else:
        if result["status"] == "succeeded" and feed.profile.activity(
                PREDICTIONS) in result.get("outputs", {}):
            raise_marker(services.state, newest_predictions(feed.tag),
                         datetime.fromisoformat(result["finishedAt"]))
        judged = evaluate_finished_run(services, {**before, **result})
    # One write: the terminal status and its judgement appear together.
    record = records.update(result["batchId"], {**result, **judged})
    record_finished_run(services, record)  # dashboard summary + BI tables, idempotent
    log.info("batch %s: run %s ended %s after %.0fs (ADF runs %s)", result["batchId"],
             result["instanceId"], result["status"], result["durationSeconds"],
             ",".join(result["adfRunIds"]))
    return {k: record.get(k) for k in ("batchId", "instanceId", "status", "adfRunIds",
                                       "durationSeconds", "error", "checks", "alerts")}


def seal_batches(services, payload: dict) -> dict:
    """Claim the feed's (default: digits) kind's ready files in the recent partitions into
    batches."""
    detector = Detector(services)
    prefixes = detector.recent_prefixes(datetime.now(UTC), services.feeds.get(payload.get("feed")),
                                        kinds=[payload["kind"]])
    det = detector.sweep(prefixes=prefixes, reason=payload.get("reason", "events"))
    return {"batches": [b.to_json() for b in det.batches], "unsettled": len(det.unsettled)}
