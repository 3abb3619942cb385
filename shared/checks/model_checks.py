"""metric_regression: is the newly trained model worse than it should be?

Compared with the champion's accuracy (when there is a different champion) and with the
median accuracy of the recent training runs (once CHECK_MIN_HISTORY exist). Worse than
either by more than CHECK_ACCURACY_TOLERANCE is a regression: "alert" when the model was
promoted anyway (production got worse), "warning" when the champion stayed.
"""
from __future__ import annotations

from shared.checks.findings import ALERT, INSUFFICIENT, OK, WARNING, finding
from shared.checks.records import comparable_history, output
from shared.checks.stats import median


def metric_regression(run: dict, history: list[dict], s) -> list[dict]:
    train = output(run, "Train")
    if run.get("status") != "succeeded" or train.get("accuracy") is None:
        return []
    acc = float(train["accuracy"])
    tol = s.check_accuracy_tolerance
    ctx = {"batchId": run.get("batchId"), "modelVersion": train.get("modelVersion"),
           "accuracy": acc, "tolerance": tol, "promoted": bool(train.get("promoted"))}
    reasons = []
    compared = False

    champ = train.get("championAccuracy")
    if champ is not None and train.get("championVersion") not in (None, train.get("modelVersion")):
        compared = True
        ctx.update(championVersion=train.get("championVersion"), championAccuracy=float(champ))
        if acc < float(champ) - tol:
            reasons.append(f"below champion {train.get('championVersion')} ({float(champ):.4f})")

    past = [output(h, "Train").get("accuracy")
            for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded"]
    past = [float(a) for a in past if a is not None]
    ctx["historyRuns"] = len(past)
    if len(past) >= s.check_min_history:
        compared = True
        med = median(past)
        ctx["medianAccuracy"] = med
        if acc < med - tol:
            reasons.append(f"below the median of the last {len(past)} runs ({med:.4f})")

    if not compared:
        return [finding("metric_regression", "model", INSUFFICIENT,
                        f"no champion to compare with and {len(past)} training runs in history, "
                        f"{s.check_min_history} needed", ctx)]
    if reasons:
        status = ALERT if ctx["promoted"] else WARNING
        return [finding("metric_regression", "model", status,
                        f"accuracy {acc:.4f} is more than {tol:g} " + " and ".join(reasons), ctx)]
    return [finding("metric_regression", "model", OK, f"accuracy {acc:.4f} holds up", ctx)]
