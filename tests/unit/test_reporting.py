"""The run summary and the reporting tables: pure functions over run records."""
import csv
import io

import pytest

from shared.reporting.measures import measure
from shared.reporting.summary import fold, run_point
from shared.reporting.tables import (
    CHECK_COLUMNS,
    RUN_COLUMNS,
    check_rows,
    run_row,
    table_name,
    to_csv,
)
from tests import run_samples


@pytest.fixture(scope="module")
def story():
    return run_samples.story()


def _finding(kind, status="ok", **ctx):
    return {"kind": kind, "subject": "s", "status": status, "severity": "Sev4",
            "firing": status in ("warning", "alert"), "summary": "x", "context": ctx}


@pytest.mark.parametrize("finding, expected", [
    (_finding("prediction_drift", "alert", psi=0.9, psiAlert=0.25, pValue=1e-9, alpha=0.005),
     {"metric": "psi", "value": 0.9, "low": None, "high": 0.25, "pValue": 1e-9,
      "alpha": 0.005, "level": "alert"}),
    (_finding("metric_regression", accuracy=0.91, championAccuracy=0.95, medianAccuracy=0.9,
              tolerance=0.02),
     {"metric": "accuracy", "value": 0.91, "low": pytest.approx(0.93), "high": None}),
    (_finding("metric_regression", accuracy=0.91, tolerance=0.02),
     {"metric": "accuracy", "low": None}),
    (_finding("row_count_anomaly", value=990, usualRange=[900, 1100], pValue=0.4, alpha=0.005),
     {"metric": "rows", "value": 990, "low": 900, "high": 1100, "pValue": 0.4}),
    (_finding("file_size_anomaly", value=5, usualRange=["-inf", "inf"]),
     {"metric": "bytes", "low": None, "high": None}),
    (_finding("run_slow", durationSeconds=30, limitSeconds=25, maxSeconds=7200),
     {"metric": "durationSeconds", "value": 30, "high": 25}),
    (_finding("run_slow", durationSeconds=30, maxSeconds=7200),
     {"high": 7200}),
    (_finding("rejected_rows", rate=0.1, maxRate=0.05), {"value": 0.1, "high": 0.05}),
    (_finding("dataset_drift", driftedShare=0.6, shareThreshold=0.5),
     {"value": 0.6, "high": 0.5}),
    (_finding("feature_drift", "warning", largestDriftedPsi=0.2, psiAlert=0.25, alpha=0.005),
     {"value": 0.2, "high": 0.25, "level": "warning"}),
    (_finding("data_stale", ageSeconds=10, maxAgeSeconds=100), {"value": 10, "high": 100}),
    (_finding("run_stuck", runningSeconds="nan", stuckAfterSeconds=60),
     {"value": None, "high": 60}),
    (_finding("run_failed", "alert"), {"metric": None, "value": None, "level": "alert"}),
    (_finding("something_new", value=3), {"metric": None, "value": None}),
])
def test_measure_reads_what_the_finding_carries(finding, expected):
    got = measure(finding)
    assert {k: got[k] for k in expected} == expected


def test_point_carries_plot_inputs(story):
    drifted = run_point(story[8])
    assert drifted["batchId"] == run_samples.sample_id(8, "score") and drifted["mode"] == "score"
    assert drifted["files"] == 2 and drifted["bytes"] == 200000.0
    assert set(drifted["stages"]) == {"Preprocess", "Score"}
    pd = drifted["checks"]["prediction_drift"]
    assert pd["level"] == "alert" and pd["value"] > pd["high"] and pd["js"] > pd["jsAlert"]
    assert [a["kind"] for a in drifted["alerts"]] == ["prediction_drift"]
    train = run_point(story[3])
    assert train["accuracy"] == story[3]["outputs"]["Train"]["accuracy"]
    assert train["decision"] == "promoted" and train["checks"]["run_slow"]["p95"] > 0


def test_point_of_a_sparse_record_has_nones():
    p = run_point({"batchId": "x", "status": "failed", "error": {"message": "m" * 1000}})
    assert p["accuracy"] is None and p["stages"] == {} and p["files"] == 0
    assert len(p["error"]["message"]) == 300 and p["checks"] == {}


def test_fold_upserts_by_batch_and_a_retry_changes_nothing(story):
    summary = None
    for r in story:
        summary = fold(summary, run_point(r)) or summary
    assert [p["batchId"] for p in summary["runs"]] == [r["batchId"] for r in story]
    assert fold(summary, run_point(story[5])) is None  # the same point again: no write
    again = fold(summary, run_point({**story[5], "status": "failed"}))
    assert len(again["runs"]) == len(story)
    assert [p["status"] for p in again["runs"] if p["batchId"] == story[5]["batchId"]] == [
        "failed"]


def test_fold_keeps_the_newest_per_mode_and_stays_bounded():
    summary = None
    recs = [run_samples.record(i, mode="score") for i in range(30)]
    recs += [run_samples.record(100 + i) for i in range(3)]
    for r in recs:
        summary = fold(summary, run_point(r), limit=10)
    modes = [p["mode"] for p in summary["runs"]]
    assert modes.count("score") == 10 and modes.count("train-and-score") == 3
    assert [p["batchId"] for p in summary["runs"] if p["mode"] == "score"] == [
        run_samples.sample_id(i, "score") for i in range(20, 30)]
    # an old run finishing late goes in its place in time, and ages out with its mode
    late = fold(summary, run_point(run_samples.record(0, mode="score", batch_id="late")),
                limit=10)
    assert "late" not in [p["batchId"] for p in late["runs"]]


def _load(data: bytes) -> list[dict]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    rows = list(reader)
    return reader.fieldnames, rows


def test_run_table_row_loads_with_csv_into_the_documented_columns(story):
    rec = story[3]
    columns, rows = _load(to_csv(RUN_COLUMNS, [run_row(rec)]))
    assert tuple(columns) == RUN_COLUMNS and len(rows) == 1
    row = rows[0]
    assert row["batchId"] == rec["batchId"] and row["mode"] == "train-and-score"
    assert float(row["accuracy"]) == rec["outputs"]["Train"]["accuracy"]
    assert float(row["trainSeconds"]) == rec["stages"][1]["durationSeconds"]
    assert row["decision"] == "promoted" and row["promoted"] == "true"
    assert row["files"] == "2" and float(row["bytesIn"]) == 200000.0
    assert row["errorActivity"] == "" and row["adfRunIds"] == f"adf-{rec['batchId']}"


def test_check_table_has_one_row_per_finding(story):
    rec = story[8]
    columns, rows = _load(to_csv(CHECK_COLUMNS, check_rows(rec)))
    assert tuple(columns) == CHECK_COLUMNS
    assert [r["kind"] for r in rows] == [f["kind"] for f in rec["checks"]]
    drift = next(r for r in rows if r["kind"] == "prediction_drift")
    assert drift["level"] == "alert" and drift["firing"] == "true" and drift["metric"] == "psi"
    assert float(drift["value"]) > float(drift["thresholdHigh"]) == 0.25


def test_hostile_text_cannot_become_a_formula_or_break_rows():
    rec = {**run_samples.record(1), "error": {"activity": "Train",
                                              "message": '=HYPERLINK("http://x")\n,"two'}}
    _, rows = _load(to_csv(RUN_COLUMNS, [run_row(rec)]))
    assert len(rows) == 1 and rows[0]["errorMessage"].startswith("'=HYPERLINK")


def test_table_names_are_per_run_and_day():
    rec = run_samples.record(3)
    bid = rec["batchId"]
    assert table_name("runs", rec) == f"reporting/runs/2026/11/01/{bid}.csv"
    rerun = {**rec, "instanceId": f"{bid}-rerun1",
             "finishedAt": "2026-11-02T01:00:00+02:00"}
    assert table_name("checks", rerun) == f"reporting/checks/2026/11/01/{bid}-rerun1.csv"
    with pytest.raises(ValueError):
        table_name("runs", {"batchId": "x"})
