"""Health report for /api/health: settings, storage, Data Factory, alert sinks and the Log
Analytics query. Each check gives ok plus a detail; the report is ok only if all are."""
from __future__ import annotations

from shared.errors import short


def _probe(fn) -> dict:
    try:
        detail = fn()
        return {"ok": True, **({"detail": detail} if detail else {})}
    except Exception as exc:  # any failure to reach a dependency is the answer here
        return {"ok": False, "detail": short(exc, 200)}


def check_health(services) -> dict:
    from shared.storage import blob_service

    checks: dict[str, dict] = {"settings": {"ok": True}}
    checks["storage"] = _probe(lambda: blob_service(services.settings).get_account_information())
    checks["dataFactory"] = _probe(lambda: services.adf.ping())
    if checks["storage"]["ok"]:
        from shared.alerts import sink_health
        from shared.monitoring.external_runs import logs_status

        checks["alertSinks"] = sink_health(services)
        checks["logAnalytics"] = logs_status(services)
    return {"ok": all(c.get("ok") for c in checks.values()), "checks": checks}


def settings_failure(exc: Exception) -> dict:
    """The report when the settings themselves are invalid (nothing else can be checked)."""
    return {"ok": False, "checks": {"settings": {"ok": False, "detail": str(exc)}}}
