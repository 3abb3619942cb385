"""Reporting against real Azurite: `finish_run` run twice (an activity retry) leaves one row,
one summary point, and files the standard csv module loads into the documented columns."""
import csv
import io

from shared.reporting.summary import SUMMARY, read_summary
from shared.reporting.tables import CHECK_COLUMNS, RUN_COLUMNS
from shared.runs.activities import finish_run
from shared.runs.records import RunRecords
from shared.services import get_services
from tests import run_samples


def _tables(services, table: str) -> list[tuple[list[str], list[dict]]]:
    out = []
    for blob in services.ml.list(f"reporting/{table}/"):
        reader = csv.DictReader(io.StringIO(services.ml.read_text(blob.name)))
        out.append((reader.fieldnames, list(reader)))
    return out


def test_finish_run_twice_appends_one_row_and_one_point(app_env):
    services = get_services()
    result = run_samples.record(7, mode="score")
    RunRecords(services.state).update(result["batchId"], {"status": "running"})
    first = finish_run(services, result)
    again = finish_run(services, result)  # Durable retried the activity
    assert first == again

    runs = _tables(services, "runs")
    assert len(runs) == 1
    columns, rows = runs[0]
    assert tuple(columns) == RUN_COLUMNS and len(rows) == 1
    assert rows[0]["batchId"] == result["batchId"] and rows[0]["status"] == "succeeded"
    assert float(rows[0]["scoreSeconds"]) == result["stages"][1]["durationSeconds"]

    checks = _tables(services, "checks")
    assert len(checks) == 1 and tuple(checks[0][0]) == CHECK_COLUMNS
    findings = [(r["kind"], r["subject"]) for r in checks[0][1]]  # a retry adds none
    assert len(findings) == len(set(findings)) and ("prediction_drift", "predictions") in findings

    summary = read_summary(services.state)
    assert [p["batchId"] for p in summary["runs"]] == [result["batchId"]]


def test_concurrent_runs_all_land_in_the_summary(app_env):
    from concurrent.futures import ThreadPoolExecutor

    from shared.reporting import record_finished_run

    services = get_services()
    recs = run_samples.judged([run_samples.record(i, mode="score") for i in range(6)])
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda r: record_finished_run(services, r), recs))
    summary, _ = services.state.read_json(SUMMARY)
    assert sorted(p["batchId"] for p in summary["runs"]) == sorted(r["batchId"] for r in recs)
    assert len(list(services.ml.list("reporting/runs/"))) == 6


def test_a_run_whose_feed_left_the_feeds_file_is_recorded_unjudged(app_env):
    """Bad luck: the feeds file changed while the run was in flight. The record still ends
    (nothing is left `running` forever), saying why it was not judged."""
    services = get_services()
    result = run_samples.record(8, mode="score")
    RunRecords(services.state).update(result["batchId"], {"status": "running",
                                                          "feed": "churn"})
    summary = finish_run(services, result)
    assert (summary["status"], summary["checks"], summary["alerts"]) == ("succeeded", [], [])
    record = RunRecords(services.state).get(result["batchId"])
    assert record["status"] == "succeeded" and record["feed"] == "churn"
    assert "feed 'churn' is not declared" in record["notJudged"]

