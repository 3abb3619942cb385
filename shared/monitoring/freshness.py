"""One cycle of the freshness monitor: gather facts, judge them, raise or resolve alerts."""
from __future__ import annotations

import logging
from datetime import datetime

from shared.markers import newest_data, newest_predictions, read_marker
from shared.runs.ml_layout import champion_pointer
from shared.runs.records import RunRecords, feed_of

log = logging.getLogger(__name__)


def freshness_facts(services, feed=None, active: list[dict] | None = None) -> dict:
    """A feed's (default: the default feed's) newest data per kind, champion promotion,
    newest predictions and runs in progress (`active`: the records of every run in
    progress, read once per cycle)."""
    feed = feed or services.feeds.get(None)
    if active is None:
        active = RunRecords(services.state).active()
    champion, _ = services.ml.read_json(champion_pointer(feed.ml_prefix))
    return {
        "newestDataAt": {k: read_marker(services.state, newest_data(k, feed.tag))
                         for k in feed.kinds},
        "championPromotedAt": (champion or {}).get("promotedAt"),
        "newestPredictionsAt": read_marker(services.state, newest_predictions(feed.tag)),
        "runsInProgress": [{"batchId": r["batchId"], "pipeline": r.get("pipeline"),
                            "startedAt": r.get("startedAt") or r.get("createdAt")}
                           for r in active if feed_of(r) == feed.name],
    }


def notes_by_feed(feeds, notes: list[dict]) -> dict[str, list[dict]]:
    """Notifications grouped by the feed their alert's subject is about (its sinks)."""
    out: dict[str, list[dict]] = {}
    for note in notes:
        out.setdefault(feeds.of_subject(note["alert"]["subject"]).name, []).append(note)
    return out


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
    active = RunRecords(services.state).active()
    findings = [f for feed in services.feeds.feeds for f in feed.own_findings(
        evaluate_freshness(freshness_facts(services, feed, active), now, feed.settings))]
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
        for feed, theirs in notes_by_feed(services.feeds, notes).items():
            deliver(services, theirs, now, sinks=services.feeds.sinks(feed))
        log.info("freshness monitor: %s", ", ".join(f"{n['alert']['kind']} {n['type']}"
                                                    for n in notes))
    retried = retry_deliveries(services, now, sinks=services.feeds.all_sinks())
    return {"intervalSeconds": s.freshness_interval_seconds, "findings": len(findings),
            "firing": sorted({f["kind"] for f in findings if f.get("firing")}),
            "notifications": len(notes), "deliveriesOwed": len(retried)}
