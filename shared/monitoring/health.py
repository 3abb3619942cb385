"""Health report for /api/health: settings, storage, Data Factory, alert sinks and the Log
Analytics query. Each check gives ok plus a detail; the report is ok only if all are."""
from __future__ import annotations

from shared.settings import SettingsError, get_settings


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _probe(fn) -> dict:
    try:
        detail = fn()
        return {"ok": True, **({"detail": detail} if detail else {})}
    except Exception as exc:  # any failure to reach a dependency is the answer here
        return {"ok": False, "detail": _short(exc)}


def _storage():
    from shared.storage import blob_service

    blob_service().get_account_information()


def _data_factory():
    from shared.adf.client import get_adf_client

    get_adf_client().ping()


def check_health() -> dict:
    checks: dict[str, dict] = {}
    try:
        s = get_settings()
        checks["settings"] = {"ok": True}
    except SettingsError as exc:
        checks["settings"] = {"ok": False, "detail": str(exc)}
        return {"ok": False, "checks": checks}
    checks["storage"] = _probe(_storage)
    checks["dataFactory"] = _probe(_data_factory)
    if checks["storage"]["ok"]:
        from shared.alerts import sink_health
        from shared.monitoring.external_runs import logs_status

        checks["alertSinks"] = sink_health(settings=s)
        checks["logAnalytics"] = logs_status(settings=s)
    return {"ok": all(c.get("ok") for c in checks.values()), "checks": checks}
