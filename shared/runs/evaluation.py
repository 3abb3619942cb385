"""The evaluation step after every run: judge it against its history (shared.checks),
raise or resolve alerts (shared.alerts) and send what is new to the sinks."""
from __future__ import annotations

import logging
from datetime import datetime

from shared.runs.ml_layout import champion_pointer, model_reference
from shared.runs.records import RunRecords

log = logging.getLogger(__name__)


def run_links(batch_id: str, settings) -> dict:
    if not settings.public_base_url:
        return {}
    return {"run": f"{settings.public_base_url.rstrip('/')}/api/runs/{batch_id}"}


def champion_reference(services, feed=None) -> dict | None:
    """The feed's (default: the default feed's) champion model's training-data reference
    (feature stats, class mix or prediction histogram), if any."""
    ml_prefix = feed.ml_prefix if feed is not None else ""
    pointer, _ = services.ml.read_json(champion_pointer(ml_prefix))
    if not pointer or not pointer.get("version"):
        return None
    try:
        reference, _ = services.ml.read_json(model_reference(pointer["version"], ml_prefix))
    except ValueError:
        return None
    return reference


def evaluate_finished_run(services, record: dict) -> dict:
    """Fields to merge into the run record: the checks' findings and the notifications sent.

    The run is judged as its feed says (the feed's settings, profile, history, champion);
    its findings' subjects are the feed's (`Feed.subject`). `now` is the run's finish time,
    so a retried activity decides the same way and the alert store sends nothing twice."""
    from shared.alerts import deliver, process_findings
    from shared.checks import evaluate_run

    feed = services.feeds.get(record.get("feed"))
    s = feed.settings
    history = [r for r in RunRecords(services.state).recent(
                   s.check_history_window + 1, kind=record.get("kind"), finished_only=True,
                   feed=feed.name)
               if r["batchId"] != record["batchId"]][: s.check_history_window]
    findings = feed.own_findings(evaluate_run(
        record, history, champion_reference(services, feed), s, feed.profile))
    now = datetime.fromisoformat(record["finishedAt"])
    notes = process_findings(services, findings, now, run_links(record["batchId"], s))
    delivered = deliver(services, notes, sinks=services.feeds.sinks(feed)) if notes else {}
    alerts = [{"id": n["alert"]["id"], "kind": n["alert"]["kind"],
               "subject": n["alert"]["subject"], "severity": n["alert"]["severity"],
               "type": n["type"], "delivery": delivered.get(n["id"])} for n in notes]
    if alerts:
        log.info("batch %s: alerts %s", record["batchId"],
                 ", ".join(f"{a['kind']} {a['type']}" for a in alerts))
    return {"checks": findings, "alerts": alerts}
