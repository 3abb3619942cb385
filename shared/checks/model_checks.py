"""metric_regression: is the newly trained model worse than it should be?

The feed's primary metric (`Profile.metric`, default `accuracy`) with its direction (higher
or lower is better) is compared with the champion's value on the same held-out rows (when
there is a different champion) and with the median of the recent training runs (once
CHECK_MIN_HISTORY exist). Worse than either by more than the tolerance (the feed's, default
CHECK_ACCURACY_TOLERANCE) is a regression: "alert" when the model was promoted anyway
(production got worse), "warning" when the champion stayed.

Where the value is read (the contract's `metrics` output): `metrics.<name>`, else a top-level
`<name>` (the digits' `accuracy`, as records written before the contract have it); the
champion's from `championMetrics.<name>`, else `champion<Name>` (`championAccuracy`).
The context carries `metric`, `direction`, `value`, `championValue`, `medianValue` and, for
`accuracy`, the same numbers under the names the reporting tables read (`accuracy`,
`championAccuracy`, `medianAccuracy`).
"""
from __future__ import annotations

from shared.checks.findings import ALERT, INSUFFICIENT, OK, WARNING, finding
from shared.checks.profile import DEFAULT, HIGHER, METRICS, Profile
from shared.checks.records import champion_value, comparable_history, metric_value, output
from shared.checks.stats import median


def _legacy_keys(ctx: dict) -> None:
    """The accuracy names the reporting tables read."""
    for generic, legacy in (("value", "accuracy"), ("championValue", "championAccuracy"),
                            ("medianValue", "medianAccuracy")):
        if generic in ctx:
            ctx[legacy] = ctx[generic]


def metric_regression(run: dict, history: list[dict], s, profile: Profile = DEFAULT) -> list[dict]:
    train = output(run, METRICS, profile)
    name = profile.metric
    value = metric_value(train, name)
    if run.get("status") != "succeeded" or value is None:
        return []
    tol = profile.tolerance_for(s)
    ctx = {"batchId": run.get("batchId"), "modelVersion": train.get("modelVersion"),
           "metric": name, "direction": profile.direction, "value": value, "tolerance": tol,
           "promoted": bool(train.get("promoted"))}
    reasons = []
    compared = False
    worse = "below" if profile.direction == HIGHER else "above"

    champ = champion_value(train, name)
    if champ is not None and train.get("championVersion") not in (None, train.get("modelVersion")):
        compared = True
        ctx.update(championVersion=train.get("championVersion"), championValue=champ)
        if profile.worse(value, champ, tol):
            reasons.append(f"{worse} champion {train.get('championVersion')} ({champ:.4f})")

    past = [metric_value(output(h, METRICS, profile), name)
            for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded"]
    past = [v for v in past if v is not None]
    ctx["historyRuns"] = len(past)
    if len(past) >= s.check_min_history:
        compared = True
        med = median(past)
        ctx["medianValue"] = med
        if profile.worse(value, med, tol):
            reasons.append(f"{worse} the median of the last {len(past)} runs ({med:.4f})")
    if name == "accuracy":
        _legacy_keys(ctx)

    if not compared:
        return [finding("metric_regression", "model", INSUFFICIENT,
                        f"no champion to compare with and {len(past)} training runs in history, "
                        f"{s.check_min_history} needed", ctx)]
    if reasons:
        status = ALERT if ctx["promoted"] else WARNING
        return [finding("metric_regression", "model", status,
                        f"{name} {value:.4f} is more than {tol:g} " + " and ".join(reasons), ctx)]
    return [finding("metric_regression", "model", OK, f"{name} {value:.4f} holds up", ctx)]
