"""Prediction drift, feature drift and dataset drift.

prediction_drift (subject `predictions`): the predicted class distribution of this run
against the reference's `classDistribution` (the champion's training data), or, without a
reference, the mean distribution of the last CHECK_HISTORY_WINDOW scored runs (needs
CHECK_MIN_HISTORY). Status is the worse of the PSI band (CHECK_PSI_WARNING / _ALERT) and the
Jensen-Shannon band (CHECK_JS_WARNING / _ALERT).

feature_drift / dataset_drift (subject `dataset:<kind>`): per-feature PSI of this batch's
preprocess histograms (`featureStats.features.<f>.counts`) against the reference's (or the
summed counts of recent batches). A feature drifts when its PSI reaches CHECK_PSI_ALERT;
feature_drift warns when any feature drifts, dataset_drift alerts when the share of
drifted features reaches CHECK_DATASET_DRIFT_SHARE. Features whose histograms cannot be
compared (different bin counts, empty reference) are skipped and listed.

Fewer than CHECK_DRIFT_MIN_ROWS rows is reported as insufficient: PSI on a small sample is
mostly sampling noise.
"""
from __future__ import annotations

import numpy as np

from shared.checks.findings import ALERT, INSUFFICIENT, OK, WARNING, band, finding, worst
from shared.checks.records import comparable_history, dataset_subject, output
from shared.checks.stats import aligned, js_distance, psi

TOP_FEATURES = 10  # how many of the most drifted features the context lists


def _class_reference(run, history, reference, s) -> tuple[dict | None, str, int]:
    if reference and reference.get("classDistribution"):
        return dict(reference["classDistribution"]), "reference", 0
    past = [output(h, "Score").get("classDistribution")
            for h in comparable_history(run, history, s.check_history_window)
            if h.get("status") == "succeeded"]
    past = [p for p in past if p]
    if len(past) < s.check_min_history:
        return None, "trailing-window", len(past)
    keys = sorted({k for p in past for k in p})
    mean = {k: float(np.mean([float(p.get(k, 0.0)) for p in past])) for k in keys}
    return mean, "trailing-window", len(past)


def prediction_drift(run: dict, history: list[dict], reference: dict | None, s) -> list[dict]:
    score = output(run, "Score")
    current = score.get("classDistribution")
    if run.get("status") != "succeeded" or not current:
        return []
    rows = int(score.get("rows") or 0)
    ref, source, n = _class_reference(run, history, reference, s)
    ctx = {"batchId": run.get("batchId"), "rows": rows, "referenceSource": source}
    if ref is None:
        ctx["historyRuns"] = n
        return [finding("prediction_drift", "predictions", INSUFFICIENT,
                        f"no reference distribution and {n} scored runs in history, "
                        f"{s.check_min_history} needed", ctx)]
    if rows < s.check_drift_min_rows:
        return [finding("prediction_drift", "predictions", INSUFFICIENT,
                        f"{rows} predictions, {s.check_drift_min_rows} needed to judge drift", ctx)]
    cur, exp = aligned(current, ref)
    p, j = psi(cur, exp), js_distance(cur, exp)
    status = worst(band(p, s.check_psi_warning, s.check_psi_alert),
                   band(j, s.check_js_warning, s.check_js_alert))
    ctx.update(psi=p, jsDistance=j, psiBands=[s.check_psi_warning, s.check_psi_alert],
               jsBands=[s.check_js_warning, s.check_js_alert],
               current=dict(current), reference=ref)
    text = f"predicted class distribution PSI {p:.3f}, JS distance {j:.3f}"
    return [finding("prediction_drift", "predictions", status,
                    text + ("" if status == OK else f" ({status} band)"), ctx)]


def _feature_counts(stats: dict | None) -> dict[str, list[float]]:
    feats = (stats or {}).get("features") or {}
    return {name: list(f.get("counts") or []) for name, f in feats.items()}


def _feature_reference(run, history, reference, s) -> tuple[dict | None, str, int]:
    if reference and reference.get("featureStats"):
        return _feature_counts(reference["featureStats"]), "reference", 0
    past = [_feature_counts(output(h, "Preprocess").get("featureStats"))
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
                summed[name] = [a + float(b) for a, b in zip(prev, counts, strict=True)]
    return summed, "trailing-window", len(past)


def feature_drift(run: dict, history: list[dict], reference: dict | None, s) -> list[dict]:
    """Both feature_drift and dataset_drift (they share the per-feature computation)."""
    pre = output(run, "Preprocess")
    current = _feature_counts(pre.get("featureStats"))
    if run.get("status") != "succeeded" or not current:
        return []
    subject = dataset_subject(run)
    rows = int(pre.get("rowsOut") or max((sum(c) for c in current.values()), default=0))
    ref, source, n = _feature_reference(run, history, reference, s)
    ctx = {"batchId": run.get("batchId"), "rows": rows, "referenceSource": source}
    why = None
    if ref is None:
        ctx["historyRuns"] = n
        why = (f"no reference feature statistics and {n} batches in history, "
               f"{s.check_min_history} needed")
    elif rows < s.check_drift_min_rows:
        why = f"{rows} rows, {s.check_drift_min_rows} needed to judge drift"
    if why:
        return [finding("feature_drift", subject, INSUFFICIENT, why, ctx),
                finding("dataset_drift", subject, INSUFFICIENT, why, ctx)]

    scores: dict[str, float] = {}
    skipped: list[str] = []
    for name, counts in current.items():
        expected = ref.get(name)
        if not expected or len(expected) != len(counts) or sum(expected) <= 0 or sum(counts) <= 0:
            skipped.append(name)
            continue
        scores[name] = psi(counts, expected)
    drifted = sorted((f for f, v in scores.items() if v >= s.check_psi_alert),
                     key=lambda f: -scores[f])
    share = len(drifted) / len(scores) if scores else 0.0
    top = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:TOP_FEATURES])
    ctx.update(featuresEvaluated=len(scores), featuresSkipped=skipped, drifted=drifted,
               driftedShare=share, psiThreshold=s.check_psi_alert,
               shareThreshold=s.check_dataset_drift_share, topPsi=top)
    if not scores:
        why = "no feature histograms comparable with the reference"
        return [finding("feature_drift", subject, INSUFFICIENT, why, ctx),
                finding("dataset_drift", subject, INSUFFICIENT, why, ctx)]
    f_status = WARNING if drifted else OK
    d_status = ALERT if share >= s.check_dataset_drift_share else OK
    listed = ", ".join(drifted[:5]) + (" ..." if len(drifted) > 5 else "")
    return [
        finding("feature_drift", subject, f_status,
                f"{len(drifted)} of {len(scores)} features drifted (PSI >= {s.check_psi_alert:g})"
                + (f": {listed}" if drifted else ""), ctx),
        finding("dataset_drift", subject, d_status,
                f"{share:.0%} of features drifted (dataset drift at "
                f"{s.check_dataset_drift_share:.0%})", ctx),
    ]
