"""Health report: each check gives ok plus a reason; the report is ok only if all are."""
from __future__ import annotations

from shared.settings import SettingsError, get_settings


def _storage() -> dict:
    from shared.storage import blob_service

    try:
        blob_service().get_account_information()
        return {"ok": True}
    except Exception as exc:  # any failure to reach storage is the answer here
        return {"ok": False, "detail": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


def check_health() -> dict:
    checks: dict[str, dict] = {}
    try:
        get_settings()
        checks["settings"] = {"ok": True}
    except SettingsError as exc:
        checks["settings"] = {"ok": False, "detail": str(exc)}
        return {"ok": False, "checks": checks}
    checks["storage"] = _storage()
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}
