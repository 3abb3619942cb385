"""Prediction drift, feature drift and dataset drift: tests with a stated false-alarm rate.

Each finding comes from a chi-square test (see stats) whose p-value accounts for the batch's
size and the reference's, so noise at 100 rows and a shift at 100,000 are told apart the same
way. The effect size (PSI, Jensen-Shannon distance) is reported beside the p-value and sets
the severity of a significant shift; an insignificant one is "ok" however large its PSI looks.

The budget: CHECK_DRIFT_FALSE_ALARM_RATE (alpha) is split in half between the predictions and
the features (Bonferroni), so a batch drawn like the reference fires any drift finding with
probability at most alpha (up to the chi-square approximation, which merging sparse bins to
MIN_EXPECTED keeps honest).

prediction_drift (subject `predictions`): this run's predicted class counts against the
reference's `predictedClassCounts` (the champion's predictions on the rows it saw), else its
`classCounts` (labels), both as a two-sample test; else against `classDistribution` taken as
exact (goodness of fit). Without a reference: the summed class counts of the last
CHECK_HISTORY_WINDOW scored runs (needs CHECK_MIN_HISTORY). Significant at alpha/2: a
warning, an alert when PSI or JS distance reaches its alert band (CHECK_PSI_ALERT,
CHECK_JS_ALERT).
For a regression feed (`Profile.task`) the categories are the bins of the predicted values'
histogram (`predictionHistogram`: `edges`, `counts`), which the Score activity bins with the
edges of the champion's reference (its own predictions on its training rows, quantile bins),
and the same two-sample test compares the two histograms bin by bin; without a reference
with those edges, the summed histograms of recent scored runs binned alike.

feature_drift / dataset_drift (subject `dataset:<kind>`): per feature, a two-sample test of
this batch's histogram (`featureStats.features.<f>.counts`) against the reference's (or the
summed counts of recent batches); Holm's adjustment across the features holds the chance of
any false "drifted" feature at alpha/2 whatever their correlation. feature_drift warns when a
feature drifts and alerts when a drifted feature's PSI (on the merged bins) reaches
CHECK_PSI_ALERT; dataset_drift alerts when the share of drifted features reaches
CHECK_DATASET_DRIFT_SHARE (a subset of feature-drift outcomes, so within the same budget).
Features whose histograms cannot be compared (different bin counts, empty) are skipped and
listed; a feature with one merged bin (constant) is tested but cannot drift.

Fewer than CHECK_DRIFT_MIN_ROWS rows is reported as insufficient.
"""
from __future__ import annotations

import numpy as np

from shared.checks.findings import ALERT, INSUFFICIENT, OK, WARNING, band, finding, worst
from shared.checks.profile import DATA, DEFAULT, PREDICTIONS, REGRESSION, Profile
from shared.checks.records import comparable_history, dataset_subject, output
from shared.checks.stats import (
    aligned,
    chi2_goodness_of_fit,
    chi2_two_sample,
    holm,
    js_distance,
    psi,
)

TOP_FEATURES = 10  # how many of the most significant features the context lists
FAMILIES = 2  # predictions and features share CHECK_DRIFT_FALSE_ALARM_RATE


def family_alpha(s) -> float:
    return s.check_drift_false_alarm_rate / FAMILIES


def _class_counts(score: dict) -> dict[str, float] | None:
    """Predicted class counts; from the distribution x rows for records that lack them."""
    if score.get("classCounts"):
        return {k: float(v) for k, v in score["classCounts"].items()}
    dist, rows = score.get("classDistribution"), score.get("rows")
    if dist and rows:
        return {k: float(v) * float(rows) for k, v in dist.items()}
    return None


def _class_reference(run, history, reference, s, profile) -> tuple[dict | None, bool, str, int]:
    """(reference, are_counts, source, history runs)."""
    if reference:
        for key in ("predictedClassCounts", "classCounts"):
            if reference.get(key):
                return {k: float(v) for k, v in reference[key].items()}, True, key, 0
        if reference.get("classDistribution"):
            return dict(reference["classDistribution"]), False, "classDistribution", 0
    past = [output(h, PREDICTIONS, profile)
            for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded"]
    past = [p for p in past if p.get("classDistribution") or p.get("classCounts")]
    if len(past) < s.check_min_history:
        return None, False, "trailing-window", len(past)
    counts = [_class_counts(p) for p in past]
    if all(c is not None for c in counts):
        return _summed(counts), True, "trailing-window", len(past)
    keys = sorted({k for p in past for k in p.get("classDistribution") or {}})
    dists = [p.get("classDistribution") or {} for p in past]
    mean = {k: sum(float(d.get(k, 0.0)) for d in dists) / len(dists) for k in keys}
    return mean, False, "trailing-window", len(past)


def _summed(counts: list[dict[str, float]]) -> dict[str, float]:
    summed: dict[str, float] = {}
    for c in counts:
        for k, v in c.items():
            summed[k] = summed.get(k, 0.0) + v
    return summed


def _histogram(doc: dict | None) -> tuple[list[float], dict[str, float]] | None:
    """(edges, counts by bin index) of a `predictionHistogram`; bins keep their order."""
    h = (doc or {}).get("predictionHistogram")
    if not isinstance(h, dict) or not h.get("counts"):
        return None
    return ([float(e) for e in h.get("edges") or []],
            {str(i): float(c) for i, c in enumerate(h["counts"])})


def _value_reference(run, history, reference, edges, s, profile) -> tuple[dict | None, bool, str, int]:
    """The reference histogram of predicted values over the same bins as this run's: the
    champion's own predictions on its training rows (the Score activity bins with that
    reference's edges), else the summed histograms of recent scored runs with these edges."""
    ref = _histogram(reference)
    if ref is not None and ref[0] == edges:
        return ref[1], True, "predictionHistogram", 0
    past = [_histogram(output(h, PREDICTIONS, profile))
            for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded"]
    past = [found[1] for found in past if found is not None and found[0] == edges]
    if len(past) < s.check_min_history:
        return None, True, "trailing-window", len(past)
    return _summed(past), True, "trailing-window", len(past)


def prediction_drift(run: dict, history: list[dict], reference: dict | None, s,
                     profile: Profile = DEFAULT) -> list[dict]:
    """Classification: the predicted class mix; regression: the histogram of predicted
    values. The same test either way (see the module docstring)."""
    score = output(run, PREDICTIONS, profile)
    if profile.task == REGRESSION:
        hist = _histogram(score)
        current = hist[1] if hist else None
        what = "predicted values"
    else:
        current = _class_counts(score)
        what = "predicted class mix"
    if run.get("status") != "succeeded" or not current:
        return []
    rows = int(score.get("rows") or sum(current.values()))
    if profile.task == REGRESSION:
        ref, are_counts, source, n = _value_reference(run, history, reference, hist[0], s, profile)
    else:
        ref, are_counts, source, n = _class_reference(run, history, reference, s, profile)
    ctx = {"batchId": run.get("batchId"), "rows": rows, "referenceSource": source}
    if profile.task == REGRESSION:
        ctx["edges"] = hist[0]
    if ref is None:
        ctx["historyRuns"] = n
        return [finding("prediction_drift", "predictions", INSUFFICIENT,
                        f"no reference distribution and {n} scored runs in history, "
                        f"{s.check_min_history} needed", ctx)]
    if rows < s.check_drift_min_rows:
        return [finding("prediction_drift", "predictions", INSUFFICIENT,
                        f"{rows} predictions, {s.check_drift_min_rows} needed to judge drift", ctx)]
    cur, exp = aligned(current, ref)
    test = chi2_two_sample(cur, exp) if are_counts else chi2_goodness_of_fit(cur, exp)
    p, j = psi(cur, exp), js_distance(cur, exp)
    alpha = family_alpha(s)
    significant = test.p <= alpha
    status = OK
    if significant:
        status = worst(WARNING, band(p, None, s.check_psi_alert), band(j, None, s.check_js_alert))
    total = sum(exp)
    ctx.update(pValue=test.p, alpha=alpha, chi2=test.statistic, df=test.df, psi=p,
               jsDistance=j, psiAlert=s.check_psi_alert, jsAlert=s.check_js_alert,
               referenceRows=total if are_counts else None,
               current={k: v / sum(cur) for k, v in current.items()},
               reference={k: v / total for k, v in ref.items()})
    text = (f"{what}: p {test.p:.2g} (drift below {alpha:g}), PSI {p:.3f}, "
            f"JS distance {j:.3f} over {rows} predictions")
    return [finding("prediction_drift", "predictions", status,
                    text + ("" if status == OK else f" ({status})"), ctx)]


def _feature_counts(stats: dict | None) -> dict[str, list[float]]:
    feats = (stats or {}).get("features") or {}
    return {name: list(f.get("counts") or []) for name, f in feats.items()}


def _feature_reference(run, history, reference, s, profile) -> tuple[dict | None, str, int]:
    if reference and reference.get("featureStats"):
        return _feature_counts(reference["featureStats"]), "reference", 0
    past = [_feature_counts(output(h, DATA, profile).get("featureStats"))
            for h in comparable_history(run, history, s.check_history_window)]
    past = [p for p in past if p]
    if len(past) < s.check_min_history:
        return None, "trailing-window", len(past)
    summed: dict[str, list[float]] = {}
    for p in past:
        for name, counts in p.items():
            prev = summed.get(name)
            if prev is None:
                summed[name] = list(map(float, counts))
            elif len(prev) == len(counts):
                summed[name] = list(np.add(prev, counts, dtype=float))
    return summed, "trailing-window", len(past)


def _insufficient(subject: str, why: str, ctx: dict) -> list[dict]:
    return [finding("feature_drift", subject, INSUFFICIENT, why, ctx),
            finding("dataset_drift", subject, INSUFFICIENT, why, ctx)]


def feature_drift(run: dict, history: list[dict], reference: dict | None, s,
                  profile: Profile = DEFAULT) -> list[dict]:
    """Both feature_drift and dataset_drift (they share the per-feature tests)."""
    pre = output(run, DATA, profile)
    current = _feature_counts(pre.get("featureStats"))
    if run.get("status") != "succeeded" or not current:
        return []
    subject = dataset_subject(run)
    rows = int(pre.get("rowsOut") or max((sum(c) for c in current.values()), default=0))
    ref, source, n = _feature_reference(run, history, reference, s, profile)
    ctx = {"batchId": run.get("batchId"), "rows": rows, "referenceSource": source}
    if ref is None:
        ctx["historyRuns"] = n
        return _insufficient(subject, f"no reference feature statistics and {n} batches in "
                                      f"history, {s.check_min_history} needed", ctx)
    if rows < s.check_drift_min_rows:
        return _insufficient(subject, f"{rows} rows, {s.check_drift_min_rows} needed to judge "
                                      "drift", ctx)

    pvalues: dict[str, float] = {}
    effect: dict[str, float] = {}
    skipped: list[str] = []
    for name, counts in current.items():
        expected = ref.get(name)
        if not expected or len(expected) != len(counts) or sum(expected) <= 0 or sum(counts) <= 0:
            skipped.append(name)
            continue
        test = chi2_two_sample(counts, expected)
        pvalues[name] = test.p
        effect[name] = psi(test.current, test.reference)
    if not pvalues:
        ctx["featuresSkipped"] = skipped
        return _insufficient(subject, "no feature histograms comparable with the reference", ctx)
    alpha = family_alpha(s)
    adjusted = holm(pvalues)
    drifted = sorted((f for f in adjusted if adjusted[f] <= alpha),
                     key=lambda f: (adjusted[f], -effect[f]))
    share = len(drifted) / len(pvalues)
    top = sorted(pvalues, key=lambda f: (adjusted[f], -effect[f]))[:TOP_FEATURES]
    largest = max((effect[f] for f in drifted), default=0.0)
    ctx.update(featuresEvaluated=len(pvalues), featuresSkipped=skipped, drifted=drifted,
               driftedShare=share, alpha=alpha, shareThreshold=s.check_dataset_drift_share,
               psiAlert=s.check_psi_alert, largestDriftedPsi=largest,
               top={f: {"pHolm": adjusted[f], "psi": effect[f]} for f in top})
    f_status = OK
    if drifted:
        f_status = worst(WARNING, band(largest, None, s.check_psi_alert))
    d_status = ALERT if share >= s.check_dataset_drift_share else OK
    listed = ", ".join(drifted[:5]) + (" ..." if len(drifted) > 5 else "")
    return [
        finding("feature_drift", subject, f_status,
                f"{len(drifted)} of {len(pvalues)} features drifted (Holm p <= {alpha:g}"
                + (f"; largest PSI {largest:.3f}): {listed}" if drifted else ")"), ctx),
        finding("dataset_drift", subject, d_status,
                f"{share:.0%} of features drifted (dataset drift at "
                f"{s.check_dataset_drift_share:.0%})", ctx),
    ]
