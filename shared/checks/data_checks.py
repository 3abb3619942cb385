"""Data anomalies: file size and row count against recent batches, and rejected rows.

file_size_anomaly / row_count_anomaly: is this batch's total file bytes / input rows a
plausible next value of the last CHECK_HISTORY_WINDOW batches of the same kind? Sizes are
skewed and positive, so the test works on ln(1 + value): the log-t score (see stats) is
Student-t with n-1 degrees of freedom when sizes are log-normal, which makes the two-sided
p-value exact for any history length, including a noisy 20. A batch is anomalous when that
p-value is below CHECK_ANOMALY_FALSE_ALARM_RATE / 2, so the two checks together fire on at
most that share of usual batches (too big and too small alike). Needs CHECK_MIN_HISTORY
batches, else "insufficient-history". History is per kind: a feed that mixes kinds is judged
against its own kind's batches (`comparable_history`).

rejected_rows: rowsRejected / rowsIn above CHECK_REJECTED_RATE_MAX.
"""
from __future__ import annotations

import math

from shared.checks.findings import ALERT, INSUFFICIENT, OK, finding
from shared.checks.profile import DATA, DEFAULT, Profile
from shared.checks.records import comparable_history, dataset_subject, output, total_file_bytes
from shared.checks.stats import log_t, t_limit, t_two_sided_p

CHECKS_SHARING_THE_RATE = 2  # file size and row count split the false-alarm budget


def _rows_in(run: dict, profile: Profile) -> float | None:
    value = output(run, DATA, profile).get("rowsIn")
    return float(value) if value is not None else None


def _anomaly(kind: str, label: str, measure, run: dict, history: list[dict], s,
             profile: Profile) -> list[dict]:
    x = measure(run, profile)
    if x is None:
        return []
    subject = dataset_subject(run)
    past = [measure(h, profile) for h in comparable_history(run, history, s.check_history_window)]
    past = [v for v in past if v is not None]
    alpha = s.check_anomaly_false_alarm_rate / CHECKS_SHARING_THE_RATE
    ctx = {"batchId": run.get("batchId"), "value": x, "historyBatches": len(past),
           "alpha": alpha}
    if len(past) < s.check_min_history:
        return [finding(kind, subject, INSUFFICIENT,
                        f"{len(past)} batches in history, {s.check_min_history} needed", ctx)]
    df = len(past) - 1
    t, centre, se = log_t(x, past)
    limit = t_limit(alpha, df)
    p = t_two_sided_p(t, df)
    usual = [math.expm1(math.log1p(centre) - limit * se),
             math.expm1(math.log1p(centre) + limit * se)]
    ctx.update(t=t, pValue=p, tLimit=limit, centre=centre, usualRange=usual)
    shown = f"{t:.2f}"  # "inf" / "-inf" for a constant history
    if p < alpha:
        direction = "above" if t > 0 else "below"
        return [finding(kind, subject, ALERT,
                        f"{label} {x:.0f} is far {direction} the last {len(past)} batches "
                        f"(usual {usual[0]:.0f} to {usual[1]:.0f}; log-t {shown}, "
                        f"p {p:.2g} < {alpha:g})", ctx)]
    return [finding(kind, subject, OK,
                    f"{label} {x:.0f} is usual (within {usual[0]:.0f} to {usual[1]:.0f}; "
                    f"p {p:.2g})", ctx)]


def file_size_anomaly(run: dict, history: list[dict], s, profile: Profile = DEFAULT) -> list[dict]:
    return _anomaly("file_size_anomaly", "batch size in bytes", total_file_bytes, run, history, s,
                    profile)


def row_count_anomaly(run: dict, history: list[dict], s, profile: Profile = DEFAULT) -> list[dict]:
    return _anomaly("row_count_anomaly", "row count", _rows_in, run, history, s, profile)


def rejected_rows(run: dict, s, profile: Profile = DEFAULT) -> list[dict]:
    pre = output(run, DATA, profile)
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
