"""The evaluation step after every run: judge it against its history (shared.checks),
raise or resolve alerts (shared.alerts) and send what is new to the sinks."""
from __future__ import annotations

import json
import logging
from datetime import datetime

from shared.settings import get_settings

log = logging.getLogger(__name__)


def run_links(batch_id: str, settings=None) -> dict:
    s = settings or get_settings()
    if not s.public_base_url:
        return {}
    return {"run": f"{s.public_base_url.rstrip('/')}/api/runs/{batch_id}"}


def champion_reference(settings=None) -> dict | None:
    """The champion model's training-data reference (feature stats, class mix), if any."""
    from azure.core.exceptions import ResourceNotFoundError

    from shared.storage import container

    s = settings or get_settings()
    ml = container(s.ml_container, s)
    try:
        pointer = json.loads(ml.download_blob("models/champion.json").readall())
        return json.loads(ml.download_blob(f"models/{pointer['version']}/reference.json").readall())
    except (ResourceNotFoundError, KeyError, ValueError):
        return None


def evaluate_finished_run(record: dict) -> dict:
    """Fields to merge into the run record: the checks' findings and the notifications sent.

    `now` is the run's finish time, so a retried activity decides the same way and the
    alert store sends nothing twice."""
    from shared.alerts import deliver, process_findings
    from shared.checks import evaluate_run
    from shared.runs.records import RunRecords

    s = get_settings()
    history = [r for r in RunRecords(s).recent(s.check_history_window + 1, kind=record.get("kind"),
                                                finished_only=True)
               if r["batchId"] != record["batchId"]][: s.check_history_window]
    findings = evaluate_run(record, history, champion_reference(s), s)
    now = datetime.fromisoformat(record["finishedAt"])
    notes = process_findings(findings, now, run_links(record["batchId"], s), settings=s)
    delivered = deliver(notes, settings=s) if notes else {}
    alerts = [{"id": n["alert"]["id"], "kind": n["alert"]["kind"],
               "subject": n["alert"]["subject"], "severity": n["alert"]["severity"],
               "type": n["type"], "delivery": delivered.get(n["id"])} for n in notes]
    if alerts:
        log.info("batch %s: alerts %s", record["batchId"],
                 ", ".join(f"{a['kind']} {a['type']}" for a in alerts))
    return {"checks": findings, "alerts": alerts}
