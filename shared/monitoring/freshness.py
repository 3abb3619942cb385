"""One cycle of the freshness monitor: gather facts, judge them, raise or resolve alerts."""
from __future__ import annotations

import logging
from datetime import datetime

from shared.landing.layout import KINDS
from shared.markers import NEWEST_PREDICTIONS, newest_data, read_marker
from shared.runs.ml_layout import CHAMPION_POINTER
from shared.runs.records import RunRecords

log = logging.getLogger(__name__)


def freshness_facts(services) -> dict:
    """Newest data per kind, champion promotion, newest predictions, runs in progress."""
    champion, _ = services.ml.read_json(CHAMPION_POINTER)
    return {
        "newestDataAt": {k: read_marker(services.state, newest_data(k)) for k in KINDS},
        "championPromotedAt": (champion or {}).get("promotedAt"),
        "newestPredictionsAt": read_marker(services.state, NEWEST_PREDICTIONS),
        "runsInProgress": [{"batchId": r["batchId"], "pipeline": r.get("pipeline"),
                            "startedAt": r.get("startedAt") or r.get("createdAt")}
                           for r in RunRecords(services.state).active()],
    }


def app_started_run_ids(services, limit: int = 500) -> set[str]:
    return {i for r in RunRecords(services.state).recent(limit) for i in r.get("adfRunIds", [])}


def check_freshness(services, now: datetime) -> dict:
    """Run one monitor cycle at `now` (the orchestration's time); returns when to look again
    and what it found. Judged at `now`, so a retried activity makes the same notifications
    (same ids), and their delivery records keep it from sending any twice; then every
    notification still owed to a sink is retried (`retry_deliveries`)."""
    from shared.alerts import deliver, process_findings, retry_deliveries
    from shared.checks import evaluate_freshness
    from shared.monitoring.external_runs import KINDS as EXTERNAL_KINDS
    from shared.monitoring.external_runs import logs_status, query_external_runs

    s = services.settings
    findings = evaluate_freshness(freshness_facts(services), now, s)
    complete = {"run_stuck"}
    if s.log_analytics_workspace_id:
        try:
            findings += query_external_runs(services, app_started_run_ids(services), now)
            last = logs_status(services).get("lastQuery") or {}
            if not last.get("partial"):  # a full answer: absent means fine
                complete |= set(EXTERNAL_KINDS)
        except Exception as exc:  # a failed query resolves nothing; health reports it
            log.warning("Log Analytics query failed: %s", exc)
    notes = process_findings(services, findings, now, complete_kinds=complete)
    if notes:
        deliver(services, notes, now)
        log.info("freshness monitor: %s", ", ".join(f"{n['alert']['kind']} {n['type']}"
                                                    for n in notes))
    retried = retry_deliveries(services, now)
    return {"intervalSeconds": s.freshness_interval_seconds, "findings": len(findings),
            "firing": sorted({f["kind"] for f in findings if f.get("firing")}),
            "notifications": len(notes), "deliveriesOwed": len(retried)}
