"""Runs of the factory's pipelines that this app did not start, from Log Analytics.

On only when LOG_ANALYTICS_WORKSPACE_ID is set. Queries `ADFPipelineRun` (Data Factory
diagnostic logs) through the real `LogsQueryClient` for the last LOGS_WINDOW_MINUTES, keeps
the latest record per RunId, drops the run ids the app started, and reports per pipeline:

- external_run_failed (`adf-pipeline:<name>`): any run whose latest status is Failed;
- external_run_slow (same subject): any run, finished or still going, that has run longer
  than CHECK_RUN_MAX_SECONDS.
Pipelines seen without problems get "ok" findings; pass complete_kinds=KINDS to
process_findings so pipelines that left the window resolve as well.

LOG_ANALYTICS_ENDPOINT and LOG_ANALYTICS_CA_BUNDLE point the client at a local stub.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from shared.checks.findings import ALERT, OK, finding
from shared.checks.records import parse_time
from shared.errors import short

log = logging.getLogger(__name__)

KINDS = ("external_run_failed", "external_run_slow")
STATUS_BLOB = "alerts/logs-monitor.json"


def _kql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_query(factory_name: str) -> str:
    """Latest record per run of this factory (ResourceId ends with the factory; endswith is
    case-insensitive in KQL, and ResourceId is upper-case in these logs)."""
    return "\n".join([
        "ADFPipelineRun",
        f"| where ResourceId endswith strcat('/factories/', {_kql_string(factory_name)})",
        "| summarize arg_max(TimeGenerated, *) by RunId",
        "| project RunId, PipelineName, Status, Start, End, FailureType, ErrorMessage,"
        " TimeGenerated",
    ])


def classify(rows: list[dict], exclude_run_ids, now: datetime, max_seconds: float) -> list[dict]:
    """Pure: query rows -> one failed and one slow finding per pipeline seen."""
    exclude = set(exclude_run_ids or ())
    failed: dict[str, list[dict]] = defaultdict(list)
    slow: dict[str, list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for row in rows:
        run_id = str(row.get("RunId") or "")
        if not run_id or run_id in exclude:
            continue
        name = row.get("PipelineName") or "unknown"
        seen.add(name)
        status = row.get("Status")
        start, end = parse_time(row.get("Start")), parse_time(row.get("End"))
        if status == "Failed":
            failed[name].append({"runId": run_id, "failureType": row.get("FailureType"),
                                 "error": (row.get("ErrorMessage") or "")[:300] or None})
        if start is not None:
            running = status in ("Queued", "InProgress")
            took = ((now if running or end is None else end) - start).total_seconds()
            if took > max_seconds:
                slow[name].append({"runId": run_id, "status": status, "seconds": took})
    out = []
    for name in sorted(seen):
        subject = f"adf-pipeline:{name}"
        f_runs, s_runs = failed.get(name, []), slow.get(name, [])
        out.append(finding(
            "external_run_failed", subject, ALERT if f_runs else OK,
            f"{len(f_runs)} run(s) of {name} not started by this app failed"
            + (f", e.g. {f_runs[0]['runId']}: {f_runs[0]['error']}" if f_runs else ""),
            {"pipeline": name, "runs": f_runs[:20], "signalType": "Log"}))
        out.append(finding(
            "external_run_slow", subject, ALERT if s_runs else OK,
            f"{len(s_runs)} run(s) of {name} not started by this app ran over "
            f"{max_seconds:.0f} s", {"pipeline": name, "runs": s_runs[:20], "signalType": "Log"}))
    return out


def logs_client(settings, credential=None):
    """The real LogsQueryClient; endpoint and CA bundle overridable for a local stub."""
    from azure.monitor.query import LogsQueryClient

    if credential is None:
        from shared.identity import credential as app_credential

        credential = app_credential(settings.azure_client_id)
    kwargs = {}
    if settings.log_analytics_endpoint:
        kwargs["endpoint"] = settings.log_analytics_endpoint  # token audience follows it
    if settings.log_analytics_ca_bundle:
        kwargs["connection_verify"] = settings.log_analytics_ca_bundle
    return LogsQueryClient(credential, **kwargs)


def _save_status(state, data: dict) -> None:
    try:
        state.put(STATUS_BLOB, data)
    except Exception:  # status bookkeeping must not hide the query's own outcome
        log.exception("could not record the Log Analytics query status")


def query_external_runs(services, exclude_run_ids, now: datetime, *, credential=None,
                        client=None) -> list[dict]:
    """Findings for runs this app did not start; [] when no workspace is configured.
    Raises on a failed query (so the caller does not resolve anything on no data)."""
    from azure.monitor.query import LogsQueryStatus

    s, state = services.settings, services.state
    if not s.log_analytics_workspace_id:
        return []
    client = client or logs_client(s, credential)
    window = timedelta(minutes=s.logs_window_minutes)
    try:
        result = client.query_workspace(s.log_analytics_workspace_id,
                                        build_query(s.adf_factory_name),
                                        timespan=(now - window, now))
    except Exception as exc:
        _save_status(state, {"ok": False, "at": now.isoformat(), "error": short(exc, 200)})
        raise
    partial = result.status == LogsQueryStatus.PARTIAL
    tables = result.partial_data if partial else result.tables
    if partial:
        log.warning("Log Analytics returned partial results: %s", result.partial_error)
    rows = [dict(zip(t.columns, list(r), strict=True)) for t in tables or [] for r in t.rows]
    findings = classify(rows, exclude_run_ids, now, s.check_run_max_seconds)
    _save_status(state, {"ok": True, "partial": partial, "at": now.isoformat(), "rows": len(rows),
                         "firing": sum(f["firing"] for f in findings)})
    return findings


def logs_status(services) -> dict:
    """For /api/health: whether the Log Analytics query is on, and how the last one went.
    Off is not a failure."""
    s = services.settings
    if not s.log_analytics_workspace_id:
        return {"enabled": False, "ok": True,
                "detail": "LOG_ANALYTICS_WORKSPACE_ID not set: external runs are not watched"}
    last, _ = services.state.read_json(STATUS_BLOB)
    return {"enabled": True, "ok": bool(last is None or last.get("ok")), "lastQuery": last,
            "windowMinutes": s.logs_window_minutes}
