"""Data anomalies: file size and row count against recent batches, and rejected rows.

file_size_anomaly / row_count_anomaly: robust z-score (median and MAD, see stats) of this
batch's total file bytes / input rows against the last CHECK_HISTORY_WINDOW batches of the
same kind; |z| above CHECK_ROBUST_Z_MAX is an anomaly (too big and too small alike). Needs
CHECK_MIN_HISTORY batches, else "insufficient-history".

rejected_rows: rowsRejected / rowsIn above CHECK_REJECTED_RATE_MAX.
"""
from __future__ import annotations

import math

from shared.checks.findings import ALERT, INSUFFICIENT, OK, finding
from shared.checks.records import comparable_history, dataset_subject, output, total_file_bytes
from shared.checks.stats import robust_z


def _rows_in(run: dict) -> float | None:
    value = output(run, "Preprocess").get("rowsIn")
    return float(value) if value is not None else None


def _anomaly(kind: str, label: str, measure, run: dict, history: list[dict], s) -> list[dict]:
    x = measure(run)
    if x is None:
        return []
    subject = dataset_subject(run)
    past = [measure(h) for h in comparable_history(run, history, s.check_history_window)]
    past = [v for v in past if v is not None]
    ctx = {"batchId": run.get("batchId"), "value": x, "historyBatches": len(past),
           "zMax": s.check_robust_z_max}
    if len(past) < s.check_min_history:
        return [finding(kind, subject, INSUFFICIENT,
                        f"{len(past)} batches in history, {s.check_min_history} needed", ctx)]
    z, med, scale = robust_z(x, past)
    ctx.update(z=z, median=med, scale=scale)
    shown = "inf" if math.isinf(z) else f"{z:.2f}"
    if abs(z) > s.check_robust_z_max:
        direction = "above" if z > 0 else "below"
        return [finding(kind, subject, ALERT,
                        f"{label} {x:.0f} is far {direction} the median {med:.0f} of the last "
                        f"{len(past)} batches (robust z {shown}, limit {s.check_robust_z_max:g})",
                        ctx)]
    return [finding(kind, subject, OK, f"{label} {x:.0f} is usual (robust z {shown})", ctx)]


def file_size_anomaly(run: dict, history: list[dict], s) -> list[dict]:
    return _anomaly("file_size_anomaly", "batch size in bytes", total_file_bytes, run, history, s)


def row_count_anomaly(run: dict, history: list[dict], s) -> list[dict]:
    return _anomaly("row_count_anomaly", "row count", _rows_in, run, history, s)


def rejected_rows(run: dict, s) -> list[dict]:
    pre = output(run, "Preprocess")
    if pre.get("rowsIn") is None or pre.get("rowsRejected") is None:
        return []
    rows_in, rejected = int(pre["rowsIn"]), int(pre["rowsRejected"])
    rate = rejected / rows_in if rows_in > 0 else (1.0 if rejected else 0.0)
    ctx = {"batchId": run.get("batchId"), "rowsIn": rows_in, "rowsRejected": rejected,
           "rate": rate, "maxRate": s.check_rejected_rate_max,
           "reasons": pre.get("rejectReasons")}
    status = ALERT if rate > s.check_rejected_rate_max else OK
    return [finding("rejected_rows", dataset_subject(run), status,
                    f"{rejected} of {rows_in} rows rejected ({rate:.1%}, limit "
                    f"{s.check_rejected_rate_max:.1%})", ctx)]
