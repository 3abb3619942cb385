"""What each dashboard page shows, gathered with a fixed number of reads whatever the
history: the run summary (one blob), the champion pointer, the freshness markers, the
runs in progress, the current alerts and the health probes. No page lists or reads the run
records of finished runs, except the one run a run page shows.
"""
from __future__ import annotations

from datetime import datetime

from shared.errors import NotFound

ALERTS_ON_OVERVIEW = 200
RECENT_ALERTS = 100


def overview_data(services, now: datetime, health: bool = True) -> dict:
    """Everything the overview renders, except the live stage of active runs (the entry
    layer asks the Durable client for it and adds `live`)."""
    from shared.alerts import list_alerts
    from shared.checks import evaluate_freshness
    from shared.monitoring.freshness import freshness_facts
    from shared.monitoring.health import check_health
    from shared.reporting.summary import read_summary
    from shared.runs.ml_layout import CHAMPION_POINTER
    from shared.runs.records import RunRecords

    s = services.settings
    active = RunRecords(services.state).active()
    freshness = []
    for feed in services.feeds.feeds:  # each feed's, its subjects its own (`Feed.subject`)
        facts = freshness_facts(services, feed, active)
        ages = {k: facts[k] for k in ("newestDataAt", "championPromotedAt",
                                      "newestPredictionsAt")}
        freshness += feed.own_findings(evaluate_freshness(ages, now, feed.settings))
    champion, _ = services.ml.read_json(CHAMPION_POINTER)
    return {
        "now": now,
        "summary": read_summary(services.state),
        "champion": champion,
        "tolerance": s.check_accuracy_tolerance,
        "freshness": freshness,
        "active": active,
        "alerts": list_alerts(services, open_only=True, limit=ALERTS_ON_OVERVIEW),
        "health": check_health(services) if health else None,
        "live": {},
    }


def run_data(services, batch_id: str, now: datetime) -> dict:
    from shared.landing.batch import check_batch_id
    from shared.runs.records import RunRecords

    check_batch_id(batch_id)
    record = RunRecords(services.state).get(batch_id)
    if record is None:
        raise NotFound(f"no run for batch {batch_id!r}", "unknown run")
    s = services.settings
    return {"now": now, "record": record, "live": None,
            "portal": portal_factory(s)}


def alerts_data(services, now: datetime) -> dict:
    """Open and recent alerts, and the notifications runs made about them (from the
    summary: what each alert's history looked like from the runs' side)."""
    from shared.alerts import list_alerts
    from shared.reporting.summary import read_summary

    events: dict[str, list[dict]] = {}
    for point in read_summary(services.state).get("runs", []):
        for note in point.get("alerts") or []:
            events.setdefault(note.get("id"), []).append(
                {**note, "at": point.get("finishedAt"), "batchId": point.get("batchId")})
    return {"now": now, "open": list_alerts(services, open_only=True, limit=RECENT_ALERTS),
            "recent": list_alerts(services, open_only=False, limit=RECENT_ALERTS),
            "events": events}


def portal_factory(settings) -> str | None:
    """The factory's resource id when the app talks to Azure's Data Factory (not a local
    emulator): ADF run ids then link to the Data Factory monitoring page."""
    if settings.adf_endpoint:
        return None
    return (f"/subscriptions/{settings.adf_subscription_id}/resourceGroups/"
            f"{settings.adf_resource_group}/providers/Microsoft.DataFactory/factories/"
            f"{settings.adf_factory_name}")
