"""The Log Analytics query through the real LogsQueryClient against a local HTTPS stub."""
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError

from shared.alerts import list_alerts, process_findings
from shared.monitoring.external_runs import KINDS, build_query, logs_status, query_external_runs
from shared.services import get_services
from tests.integration.alerts.logs_stub import LogsStub, StaticToken

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
COLUMNS = [("RunId", "string"), ("PipelineName", "string"), ("Status", "string"),
           ("Start", "datetime"), ("End", "datetime"), ("FailureType", "string"),
           ("ErrorMessage", "string"), ("TimeGenerated", "datetime")]


def table(*rows):
    return [{"name": "PrimaryResult",
             "columns": [{"name": n, "type": t} for n, t in COLUMNS], "rows": list(rows)}]


@pytest.fixture
def stub(tmp_path):
    with LogsStub(tmp_path) as s:
        yield s


@pytest.fixture
def logs_env(app_env, settings_env, stub):
    settings_env.setenv("LOG_ANALYTICS_WORKSPACE_ID", "ws-1234")
    settings_env.setenv("LOG_ANALYTICS_ENDPOINT", stub.url)
    settings_env.setenv("LOG_ANALYTICS_CA_BUNDLE", str(stub.ca))
    settings_env.setenv("CHECK_RUN_MAX_SECONDS", "3600")
    return get_services()


def test_failed_and_long_runs_not_started_by_the_app(logs_env, stub):
    stub.tables = table(
        ["ext-1", "CopyNightly", "Failed", "2026-11-21T11:10:00Z", "2026-11-21T11:12:00Z",
         "UserError", "Source file not found", "2026-11-21T11:12:05Z"],
        ["ext-2", "Backfill", "InProgress", "2026-11-21T10:30:00Z", None, "", "",
         "2026-11-21T10:30:05Z"],
        ["ours-1", "train_and_score", "Failed", "2026-11-21T11:00:00Z", "2026-11-21T11:01:00Z",
         "SystemError", "boom", "2026-11-21T11:01:05Z"],
        ["ext-3", "Tidy", "Succeeded", "2026-11-21T11:40:00Z", "2026-11-21T11:41:00Z", "", "",
         "2026-11-21T11:41:05Z"],
    )
    findings = query_external_runs(get_services(), {"ours-1"}, NOW, credential=StaticToken())
    (req,) = stub.requests
    assert req["path"] == "/v1/workspaces/ws-1234/query"
    assert req["auth"] == "Bearer stub-token"
    assert "ADFPipelineRun" in req["body"]["query"] and '"adf-ml-glue"' in req["body"]["query"]
    assert req["body"]["timespan"].startswith("2026-11-21T11:00:00")
    by = {(f["kind"], f["subject"]): f for f in findings}
    assert by[("external_run_failed", "adf-pipeline:CopyNightly")]["status"] == "alert"
    assert "Source file not found" in by[("external_run_failed", "adf-pipeline:CopyNightly")][
        "summary"]
    slow = by[("external_run_slow", "adf-pipeline:Backfill")]
    assert slow["status"] == "alert" and slow["context"]["runs"][0]["seconds"] == 5400
    assert by[("external_run_failed", "adf-pipeline:Tidy")]["status"] == "ok"
    assert not any(f["subject"] == "adf-pipeline:train_and_score" for f in findings)
    status = logs_status(get_services())
    assert status["enabled"] and status["ok"] and status["lastQuery"]["rows"] == 4

    notes = process_findings(get_services(), findings, NOW, complete_kinds=KINDS,
                             source="log-analytics")
    assert sorted(n["alert"]["subject"] for n in notes) == ["adf-pipeline:Backfill",
                                                           "adf-pipeline:CopyNightly"]
    # next cycle: the failure left the window and the backfill finished in time
    stub.tables = table(["ext-2", "Backfill", "Succeeded", "2026-11-21T11:30:00Z",
                         "2026-11-21T11:50:00Z", "", "", "2026-11-21T11:50:05Z"])
    later = NOW.replace(hour=13)
    svc = get_services()
    notes = process_findings(svc, query_external_runs(svc, set(), later, credential=StaticToken()),
                             later, complete_kinds=KINDS, source="log-analytics")
    assert sorted((n["type"], n["alert"]["subject"]) for n in notes) == [
        ("Resolved", "adf-pipeline:Backfill"), ("Resolved", "adf-pipeline:CopyNightly")]
    assert list_alerts(get_services()) == []


def test_a_failed_query_raises_and_health_says_so(logs_env, stub):
    stub.fail = (403, {"error": {"code": "InsufficientAccessError", "message": "no access"}})
    with pytest.raises(HttpResponseError):
        query_external_runs(get_services(), set(), NOW, credential=StaticToken())
    status = logs_status(get_services())
    assert status["enabled"] and not status["ok"]
    assert "HttpResponseError" in status["lastQuery"]["error"]


def test_without_a_workspace_it_is_off(app_env, stub):
    assert query_external_runs(get_services(), set(), NOW, credential=StaticToken()) == []
    assert stub.requests == []
    status = logs_status(get_services())
    assert status["enabled"] is False and status["ok"] is True
    assert "LOG_ANALYTICS_WORKSPACE_ID" in status["detail"]


def test_query_quotes_the_factory_name():
    q = build_query('evil" | take 1')
    assert 'strcat(\'/factories/\', "evil\\" | take 1")' in q
