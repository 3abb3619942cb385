"""Reporting tables for BI tools: CSV in ML_CONTAINER, one small file per run.

    reporting/runs/YYYY/MM/DD/<instanceId>.csv     header + one row per run (RUN_COLUMNS)
    reporting/checks/YYYY/MM/DD/<instanceId>.csv   header + one row per finding (CHECK_COLUMNS)

The date is the run's finish date (UTC). A file per run is what makes the tables
append-safe: each is written once with create-if-absent (`If-None-Match: *`), so an activity
that runs again (a retry, a host restart) finds its file there and writes nothing, and no
two writers ever append to the same blob. A BI tool reads a folder of CSVs as one table
(Power BI: Azure Blob Storage / Azure Data Lake Storage Gen2 connector, "Combine files";
Excel: Get Data > From Azure > From Azure Blob Storage). A manual rerun of a batch is a new
run (instance `<batchId>-rerun<N>`): a second row for the same `batchId`.

Every file has the same header, in the documented column order (README, "Reporting
tables"); numbers are plain decimals, empty when unknown; times ISO-8601 UTC; text cells are
prefixed with `'` when they start with = + - @ (so a spreadsheet never runs them as
formulas).
"""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from shared.reporting.measures import measure, num
from shared.reporting.summary import STAGE_NAMES, stage_seconds, total_bytes
from shared.settings import DEFAULT_FEED

PREFIX = "reporting/"
RUN_COLUMNS = (
    "batchId", "instanceId", "kind", "mode", "pipeline", "status", "startedAt", "finishedAt",
    "durationSeconds", "preprocessSeconds", "trainSeconds", "scoreSeconds", "files",
    "bytesIn", "rowsIn", "rowsOut", "rowsRejected", "predictions", "accuracy",
    "championAccuracy", "modelVersion", "decision", "promoted", "codeVersion", "reruns",
    "adfRunIds", "errorActivity", "errorMessage", "alertsFired", "alertsResolved", "feed",
)
CHECK_COLUMNS = (
    "batchId", "instanceId", "finishedAt", "kind", "subject", "level", "severity", "firing",
    "metric", "value", "thresholdLow", "thresholdHigh", "pValue", "alpha", "summary",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def table_name(table: str, record: dict) -> str:
    """`reporting/<table>/YYYY/MM/DD/<instanceId>.csv` for a finished run record."""
    if not record.get("finishedAt"):
        raise ValueError(f"run {record.get('batchId')} has no finishedAt")
    finished = datetime.fromisoformat(str(record["finishedAt"]))
    finished = finished.astimezone(UTC) if finished.tzinfo else finished
    run = record.get("instanceId") or record.get("batchId")
    return f"{PREFIX}{table}/{finished:%Y/%m/%d}/{run}.csv"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value).replace("\r", " ").replace("\n", " ")
    return "'" + text if text.startswith(_FORMULA_START) else text


def run_row(record: dict) -> dict:
    pre, train, score = ((record.get("outputs") or {}).get(a) or {} for a in STAGE_NAMES)
    stages = stage_seconds(record)
    error = record.get("error") or {}
    alerts = [a for a in record.get("alerts") or [] if isinstance(a, dict)]
    return {
        "batchId": record.get("batchId"), "instanceId": record.get("instanceId"),
        "kind": record.get("kind"), "mode": record.get("mode"),
        "pipeline": record.get("pipeline"), "status": record.get("status"),
        "startedAt": record.get("startedAt"), "finishedAt": record.get("finishedAt"),
        "durationSeconds": num(record.get("durationSeconds")),
        "preprocessSeconds": stages.get("Preprocess"), "trainSeconds": stages.get("Train"),
        "scoreSeconds": stages.get("Score"), "files": len(record.get("files") or []),
        "bytesIn": total_bytes(record), "rowsIn": num(pre.get("rowsIn")),
        "rowsOut": num(pre.get("rowsOut")), "rowsRejected": num(pre.get("rowsRejected")),
        "predictions": num(score.get("rows")), "accuracy": num(train.get("accuracy")),
        "championAccuracy": num(train.get("championAccuracy")),
        "modelVersion": train.get("modelVersion") or score.get("modelVersion"),
        "decision": train.get("decision"), "promoted": train.get("promoted"),
        "codeVersion": record.get("codeVersion"), "reruns": record.get("reruns"),
        "adfRunIds": ";".join(record.get("adfRunIds") or []),
        "errorActivity": error.get("activity"), "errorMessage": error.get("message"),
        "alertsFired": sum(1 for a in alerts if a.get("type") in ("Fired", "Escalated")),
        "alertsResolved": sum(1 for a in alerts if a.get("type") == "Resolved"),
        "feed": record.get("feed") or DEFAULT_FEED,
    }


def check_rows(record: dict) -> list[dict]:
    rows = []
    for f in record.get("checks") or []:
        if not isinstance(f, dict):
            continue
        m = measure(f)
        rows.append({
            "batchId": record.get("batchId"), "instanceId": record.get("instanceId"),
            "finishedAt": record.get("finishedAt"), "kind": f.get("kind"),
            "subject": f.get("subject"), "level": m["level"], "severity": m["severity"],
            "firing": bool(f.get("firing")), "metric": m["metric"], "value": m["value"],
            "thresholdLow": m["low"], "thresholdHigh": m["high"], "pValue": m["pValue"],
            "alpha": m["alpha"], "summary": f.get("summary"),
        })
    return rows


def to_csv(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode("utf-8")


def write_tables(ml_state, record: dict) -> dict[str, bool]:
    """Write the run's two files once each (`BlobState.create`); {name: written now}."""
    written = {}
    for table, columns, rows in (("runs", RUN_COLUMNS, [run_row(record)]),
                                 ("checks", CHECK_COLUMNS, check_rows(record))):
        name = table_name(table, record)
        written[name] = ml_state.create(name, to_csv(columns, rows),
                                        metadata={"schema": "1"}) is not None
    return written
