"""One cycle of the freshness monitor: gather facts, judge them, raise or resolve alerts."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from shared.landing.layout import KINDS
from shared.settings import get_settings

log = logging.getLogger(__name__)


def freshness_facts(settings=None) -> dict:
    """Newest data per kind, champion promotion, newest predictions, runs in progress."""
    from azure.core.exceptions import ResourceNotFoundError

    from shared.markers import read_marker
    from shared.runs.records import RunRecords
    from shared.storage import container

    s = settings or get_settings()
    state = container(s.state_container, s)
    try:
        champion = json.loads(container(s.ml_container, s)
                              .download_blob("models/champion.json").readall())
    except ResourceNotFoundError:
        champion = {}
    return {
        "newestDataAt": {k: read_marker(state, f"newest-data-{k}") for k in KINDS},
        "championPromotedAt": champion.get("promotedAt"),
        "newestPredictionsAt": read_marker(state, "newest-predictions"),
        "runsInProgress": [{"batchId": r["batchId"], "pipeline": r.get("pipeline"),
                            "startedAt": r.get("startedAt") or r.get("createdAt")}
                           for r in RunRecords(s).active()],
    }


def app_started_run_ids(settings=None, limit: int = 500) -> set[str]:
    from shared.runs.records import RunRecords

    return {i for r in RunRecords(settings).recent(limit) for i in r.get("adfRunIds", [])}


def check_freshness(payload: dict | None = None) -> dict:
    """Run one monitor cycle; returns when to look again and what it found."""
    from shared.alerts import deliver, process_findings
    from shared.checks import evaluate_freshness
    from shared.monitoring.external_runs import KINDS as EXTERNAL_KINDS
    from shared.monitoring.external_runs import logs_status, query_external_runs

    s = get_settings()
    now = datetime.now(UTC)
    findings = evaluate_freshness(freshness_facts(s), now, s)
    complete = {"run_stuck"}
    if s.log_analytics_workspace_id:
        try:
            findings += query_external_runs(app_started_run_ids(s), now, settings=s)
            last = logs_status(settings=s).get("lastQuery") or {}
            if not last.get("partial"):  # a full answer: absent means fine
                complete |= set(EXTERNAL_KINDS)
        except Exception as exc:  # a failed query resolves nothing; health reports it
            log.warning("Log Analytics query failed: %s", exc)
    notes = process_findings(findings, now, complete_kinds=complete, settings=s)
    if notes:
        deliver(notes, settings=s)
        log.info("freshness monitor: %s", ", ".join(f"{n['alert']['kind']} {n['type']}"
                                                    for n in notes))
    return {"intervalSeconds": s.freshness_interval_seconds, "findings": len(findings),
            "firing": sorted({f["kind"] for f in findings if f.get("firing")}),
            "notifications": len(notes)}
