"""The I/O behind the orchestrators' activities. Each is idempotent: Durable may run an
activity more than once (a retry, a host restart), and running it again changes nothing."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from shared.settings import get_settings

log = logging.getLogger(__name__)


def resolve_code_version(settings=None) -> str:
    """CODE_VERSION, or for `latest` the version `training.package` last uploaded."""
    from shared.storage import container

    s = settings or get_settings()
    if s.code_version != "latest":
        return s.code_version
    pointer = container(s.ml_container, s).download_blob("code/current.json").readall()
    return json.loads(pointer)["version"]


def pipeline_for(mode: str, settings=None) -> str:
    s = settings or get_settings()
    return s.adf_train_pipeline if mode == "train-and-score" else s.adf_score_pipeline


def begin_run(payload: dict) -> dict:
    """Record the run as started, take its batch off the pending list, and plan the ADF run."""
    from shared.landing.detection import Detector
    from shared.runs.records import RunRecords

    s = get_settings()
    batch, instance_id = payload["batch"], payload["instanceId"]
    options = batch.get("trainOptions")
    if options is None:
        options = json.loads(s.train_options)
    parameters = {
        "batchId": batch["batchId"], "manifestPath": batch["manifestPath"],
        "codeVersion": resolve_code_version(s), "mode": batch["mode"],
        "mlContainer": s.ml_container, "trainOptions": json.dumps(options),
    }
    pipeline = pipeline_for(batch["mode"], s)
    RunRecords(s).update(batch["batchId"], {
        "kind": batch["kind"], "mode": batch["mode"], "pipeline": pipeline,
        "instanceId": instance_id, "manifestPath": batch["manifestPath"],
        "files": batch.get("files", []), "reason": batch.get("reason", ""),
        "status": "running", "codeVersion": parameters["codeVersion"],
        "trainOptions": options, "timeoutSeconds": batch.get("timeoutSeconds"),
        "maxReruns": batch.get("maxReruns"),
        "startedAt": datetime.now(UTC).isoformat(),
    })
    Detector(s).mark_started(batch["batchId"])
    log.info("batch %s: run %s begins (%s, pipeline %s)", batch["batchId"], instance_id,
             batch["mode"], pipeline)
    return {
        "pipeline": pipeline, "parameters": parameters,
        "pollSeconds": s.poll_interval_seconds, "maxPollSeconds": s.poll_max_interval_seconds,
        "timeoutSeconds": batch.get("timeoutSeconds") or s.run_timeout_seconds,
        "maxReruns": s.max_reruns if batch.get("maxReruns") is None else batch["maxReruns"],
        "pollsPerGeneration": s.polls_per_generation,
    }


def _add_adf_run(batch_id: str, run_id: str) -> None:
    from shared.runs.records import RunRecords

    records = RunRecords()
    ids = (records.get(batch_id) or {}).get("adfRunIds", [])
    if run_id not in ids:
        records.update(batch_id, {"adfRunIds": [*ids, run_id]})


def start_adf_run(payload: dict) -> dict:
    from shared.adf.client import get_adf_client

    started = get_adf_client().start_run(payload["pipeline"], payload["batchId"],
                                         payload["parameters"])
    _add_adf_run(payload["batchId"], started["runId"])
    log.info("batch %s: ADF run %s (%s)", payload["batchId"], started["runId"],
             "created" if started["created"] else "already existed")
    return started


def _existing_rerun(client, pipeline: str, run_id: str) -> dict | None:
    """A recovery run of `run_id` that already exists: same run group, started after it
    ended. Found when this activity runs again after ADF had accepted the rerun."""
    failed = client.run_status(run_id)
    after = str(failed.get("runEnd") or failed.get("runStart") or "")
    for run in client.query_runs(72, pipeline=pipeline):
        if (run.get("runGroupId") == failed.get("runGroupId") and run["runId"] != run_id
                and str(run.get("runStart") or "") > after):
            return {"runId": run["runId"]}
    return None


def rerun_adf_run(payload: dict) -> dict:
    from shared.adf.client import get_adf_client

    client = get_adf_client()
    again = _existing_rerun(client, payload["pipeline"], payload["runId"]) or \
        client.rerun_from_failure(payload["pipeline"], payload["runId"], payload["parameters"])
    _add_adf_run(payload["batchId"], again["runId"])
    log.info("batch %s: rerun of ADF run %s from failure is %s", payload["batchId"],
             payload["runId"], again["runId"])
    return again


def get_adf_run_status(run_id: str) -> dict:
    from shared.adf.client import get_adf_client

    return get_adf_client().run_status(run_id)


def cancel_adf_run(run_id: str) -> dict:
    from shared.adf.client import get_adf_client

    get_adf_client().cancel(run_id)
    return get_adf_client().run_status(run_id)


def finish_run(result: dict) -> dict:
    """Record the finished run, then judge it (checks and alerts)."""
    from shared.runs.evaluation import evaluate_finished_run
    from shared.runs.records import RunRecords

    records = RunRecords()
    if result["status"] == "succeeded" and "Score" in result.get("outputs", {}):
        from shared.markers import raise_marker
        from shared.storage import container

        s = get_settings()
        raise_marker(container(s.state_container, s), "newest-predictions",
                     datetime.fromisoformat(result["finishedAt"]))
    before = records.get(result["batchId"]) or {}
    # A rerun's orchestration knows only its own ADF runs: keep the earlier ones too.
    result = {**result, "adfRunIds": list(dict.fromkeys(
        [*before.get("adfRunIds", []), *result["adfRunIds"]]))}
    judged = evaluate_finished_run({**before, **result})
    # One write: the terminal status and its judgement appear together.
    record = records.update(result["batchId"], {**result, **judged})
    log.info("batch %s: run %s ended %s after %.0fs (ADF runs %s)", result["batchId"],
             result["instanceId"], result["status"], result["durationSeconds"],
             ",".join(result["adfRunIds"]))
    return {k: record.get(k) for k in ("batchId", "instanceId", "status", "adfRunIds",
                                       "durationSeconds", "error", "checks", "alerts")}


def seal_batches(payload: dict) -> dict:
    """Claim the kind's ready files in the recent partitions into batches."""
    from shared.landing.detection import Detector
    from shared.landing.layout import recent_prefixes

    s = get_settings()
    prefixes = recent_prefixes(datetime.now(UTC), s.landing_lookback_days, kinds=[payload["kind"]])
    det = Detector(s).sweep(prefixes=prefixes, reason=payload.get("reason", "events"))
    return {"batches": [b.as_dict() for b in det.batches], "unsettled": len(det.unsettled)}
