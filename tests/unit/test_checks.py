"""Every run check, with expectations worked out by hand, including too little history."""
import math

import pytest

from shared.checks import evaluate_run
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})


def run(batch="b-now", status="succeeded", kind="labelled", pipeline="train_and_score",
        duration=100.0, size=1000, rows_in=500, rejected=0, accuracy=None, champion=None,
        promoted=True, classes=None, score_rows=500, features=None, error=None):
    outputs = {"Preprocess": {"rowsIn": rows_in, "rowsOut": rows_in - rejected,
                              "rowsRejected": rejected, "rejectReasons": {}}}
    if features is not None:
        outputs["Preprocess"]["featureStats"] = {
            "bins": [0, 8, 17], "features": {f: {"counts": c} for f, c in features.items()}}
    if accuracy is not None:
        outputs["Train"] = {"modelVersion": f"m-{batch}", "accuracy": accuracy,
                            "championVersion": "m-champ" if champion is not None else None,
                            "championAccuracy": champion, "promoted": promoted}
    if classes is not None:
        outputs["Score"] = {"rows": score_rows, "classDistribution": classes}
    return {"batchId": batch, "kind": kind, "mode": "train-and-score", "pipeline": pipeline,
            "status": status, "durationSeconds": duration, "files": [{"name": "a.csv",
            "size": size, "etag": "x"}], "error": error, "outputs": outputs}


def by_kind(findings, kind):
    got = [f for f in findings if f["kind"] == kind]
    assert len(got) <= 1, got
    return got[0] if got else None


def history(n, **kw):
    return [run(batch=f"b{i}", **{k: (v[i] if isinstance(v, list) else v) for k, v in kw.items()})
            for i in range(n)]


# --- shape -------------------------------------------------------------------------------

def test_every_finding_has_the_documented_shape_and_keys_are_unique():
    out = evaluate_run(run(accuracy=0.9, classes={"0": 0.5, "1": 0.5}), [], None, S)
    keys = [(f["kind"], f["subject"]) for f in out]
    assert len(keys) == len(set(keys))
    for f in out:
        assert set(f) == {"kind", "subject", "severity", "firing", "summary", "context", "status"}
        assert f["status"] in ("ok", "warning", "alert", "insufficient-history")
        assert f["firing"] == (f["status"] in ("warning", "alert"))
        assert f["severity"] in ("Sev0", "Sev1", "Sev2", "Sev3", "Sev4")


def test_a_running_run_is_not_judged():
    assert evaluate_run(run(status="running"), [], None, S) == []


def test_a_finished_run_clears_its_stuck_alert():
    f = by_kind(evaluate_run(run(batch="b42"), [], None, S), "run_stuck")
    assert (f["subject"], f["status"]) == ("run:b42", "ok")


# --- run failed / timed out / slow ---------------------------------------------------------

def test_failed_run_fires_on_the_pipeline_with_the_error():
    r = run(status="failed", error={"activity": "Train", "message": "OOM"})
    f = by_kind(evaluate_run(r, [], None, S), "run_failed")
    assert (f["subject"], f["status"], f["firing"], f["severity"]) == (
        "pipeline:train_and_score", "alert", True, "Sev1")
    assert "Train" in f["summary"] and "OOM" in f["summary"]
    assert by_kind(evaluate_run(r, [], None, S), "run_timed_out")["status"] == "ok"


def test_succeeded_run_resolves_failed_and_timed_out():
    out = evaluate_run(run(), [], None, S)
    assert by_kind(out, "run_failed")["status"] == "ok"
    assert by_kind(out, "run_timed_out")["status"] == "ok"


def test_timed_out_run():
    out = evaluate_run(run(status="timed_out", duration=5000), [], None, S)
    assert by_kind(out, "run_timed_out")["firing"] is True
    assert by_kind(out, "run_failed") is None  # says nothing about failure
    assert by_kind(out, "run_slow") is None


def test_slow_over_the_absolute_maximum_needs_no_history():
    f = by_kind(evaluate_run(run(duration=S.check_run_max_seconds + 1), [], None, S), "run_slow")
    assert f["status"] == "alert"


def test_slow_p95_rule_waits_for_enough_history():
    hist = history(4, duration=[100, 110, 120, 130])
    f = by_kind(evaluate_run(run(duration=1000), hist, None, S), "run_slow")
    assert (f["status"], f["firing"], f["context"]["historyRuns"]) == (
        "insufficient-history", False, 4)


def test_slow_p95_rule_by_hand():
    # p95 of [100..140] = 138; x 1.5 = 207
    hist = history(5, duration=[100, 110, 120, 130, 140])
    slow = by_kind(evaluate_run(run(duration=210), hist, None, S), "run_slow")
    fine = by_kind(evaluate_run(run(duration=200), hist, None, S), "run_slow")
    assert slow["status"] == "alert" and slow["context"]["limitSeconds"] == pytest.approx(207)
    assert fine["status"] == "ok"


def test_slow_history_counts_only_successes_of_the_same_pipeline_and_kind():
    hist = history(5, duration=[100, 110, 120, 130, 140]) + [
        run(batch="f1", status="failed", duration=10)]
    hist[0]["pipeline"] = "score_only"
    hist[1]["kind"] = "unlabelled"
    f = by_kind(evaluate_run(run(duration=210), hist, None, S), "run_slow")
    assert f["status"] == "insufficient-history" and f["context"]["historyRuns"] == 3


# --- metric regression -------------------------------------------------------------------

def test_regression_against_the_champion():
    f = by_kind(evaluate_run(run(accuracy=0.85, champion=0.90), [], None, S), "metric_regression")
    assert (f["subject"], f["status"], f["severity"]) == ("model", "alert", "Sev2")
    not_promoted = by_kind(evaluate_run(run(accuracy=0.85, champion=0.90, promoted=False), [],
                                        None, S), "metric_regression")
    assert (not_promoted["status"], not_promoted["severity"]) == ("warning", "Sev3")


def test_within_tolerance_of_the_champion_is_ok():
    f = by_kind(evaluate_run(run(accuracy=0.885, champion=0.90), [], None, S), "metric_regression")
    assert f["status"] == "ok"


def test_regression_against_the_recent_median_by_hand():
    # median of [.90 .92 .91 .93 .95] = .92; tolerance .02 -> below .90 regresses
    hist = history(5, accuracy=[0.90, 0.92, 0.91, 0.93, 0.95])
    bad = by_kind(evaluate_run(run(accuracy=0.89), hist, None, S), "metric_regression")
    ok = by_kind(evaluate_run(run(accuracy=0.905), hist, None, S), "metric_regression")
    assert bad["status"] == "alert" and bad["context"]["medianAccuracy"] == pytest.approx(0.92)
    assert ok["status"] == "ok"


def test_first_model_has_nothing_to_compare_with():
    hist = history(2, accuracy=0.9)
    f = by_kind(evaluate_run(run(accuracy=0.5), hist, None, S), "metric_regression")
    assert (f["status"], f["firing"]) == ("insufficient-history", False)


def test_score_only_run_has_no_metric_finding():
    assert by_kind(evaluate_run(run(), [], None, S), "metric_regression") is None


# --- prediction drift --------------------------------------------------------------------
# Chi-square by hand: cells (o - e)^2 / e with e from the pooled column totals; with one
# degree of freedom the p-value is erfc(sqrt(chi2 / 2)), no scipy needed to check it.

def chi2_by_hand(a, b):
    n_a, n_b = sum(a), sum(b)
    total = n_a + n_b
    stat = 0.0
    for x, y in zip(a, b, strict=True):
        col = x + y
        for obs, n in ((x, n_a), (y, n_b)):
            e = n * col / total
            stat += (obs - e) ** 2 / e
    return stat


def p_df1(stat):
    return math.erfc(math.sqrt(stat / 2))


def settings(**kw):
    return load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                          **{k: str(v) for k, v in kw.items()}})


REF = {"predictedClassCounts": {"0": 250, "1": 750}}


def drift_of(classes, rows, ref=REF, s=S, hist=()):
    return by_kind(evaluate_run(run(classes=classes, score_rows=rows), list(hist), ref, s),
                   "prediction_drift")


def test_prediction_drift_is_a_two_sample_chi_square_test_by_hand():
    # 100 rows at [.4 .6] vs 1,000 reference predictions [250 750]
    stat = chi2_by_hand([40, 60], [250, 750])
    assert stat == pytest.approx(10.5364, abs=1e-3)
    f = drift_of({"0": 0.4, "1": 0.6}, 100)
    assert f["context"]["chi2"] == pytest.approx(stat, abs=1e-5)
    assert f["context"]["pValue"] == pytest.approx(p_df1(stat), abs=1e-6)
    assert (f["context"]["df"], f["context"]["alpha"]) == (1, 0.005)
    assert f["context"]["referenceSource"] == "predictedClassCounts"
    assert f["context"]["referenceRows"] == 1000
    # significant (p .00117 <= .005), PSI .104 and JS .12 under their alert bands: warning
    assert f["context"]["psi"] == pytest.approx(0.15 * math.log(1.6) + 0.15 * math.log(1.25),
                                                abs=1e-6)
    assert (f["subject"], f["status"], f["firing"], f["severity"]) == (
        "predictions", "warning", True, "Sev3")


def test_prediction_drift_within_sampling_noise_is_ok_whatever_its_psi():
    # [.35 .65] on 100 rows: chi2 4.74, p .030 > .005 -> ok
    f = drift_of({"0": 0.35, "1": 0.65}, 100)
    assert f["context"]["pValue"] == pytest.approx(p_df1(chi2_by_hand([35, 65], [250, 750])),
                                                   abs=1e-6)
    assert (f["status"], f["firing"]) == ("ok", False)
    # the same shift on 1,000 rows is significant
    assert drift_of({"0": 0.35, "1": 0.65}, 1000)["status"] == "warning"
    # a big PSI on a small batch is noise when the test says so (10 rows allowed here)
    small = drift_of({"0": 0.5, "1": 0.5}, 10, s=settings(CHECK_DRIFT_MIN_ROWS=10))
    assert small["context"]["psi"] >= S.check_psi_alert and small["status"] == "ok"


def test_prediction_drift_fires_at_exactly_alpha_and_not_above():
    from shared.checks.stats import chi2_two_sample

    p = chi2_two_sample([40, 60], [250, 750]).p
    at = settings(CHECK_DRIFT_FALSE_ALARM_RATE=repr(2 * p))
    below = settings(CHECK_DRIFT_FALSE_ALARM_RATE=repr(2 * p * (1 - 1e-9)))
    assert drift_of({"0": 0.4, "1": 0.6}, 100, s=at)["firing"] is True
    assert drift_of({"0": 0.4, "1": 0.6}, 100, s=below)["firing"] is False


def test_prediction_drift_severity_from_psi_or_js_each_alone():
    cls = {"0": 0.5, "1": 0.5}  # PSI .2747, JS .2209 against [.25 .75]; p far below alpha
    f = drift_of(cls, 500)
    assert f["context"]["psi"] == pytest.approx(0.274653, abs=1e-6)
    m = [0.375, 0.625]
    js = math.sqrt((0.5 * math.log2(0.5 / m[0]) + 0.5 * math.log2(0.5 / m[1])
                    + 0.25 * math.log2(0.25 / m[0]) + 0.75 * math.log2(0.75 / m[1])) / 2)
    assert f["context"]["jsDistance"] == pytest.approx(js, abs=1e-6)
    assert (f["status"], f["severity"]) == ("alert", "Sev2")  # PSI over .25
    psi_only = settings(CHECK_PSI_ALERT=0.27, CHECK_JS_ALERT=0.9)
    js_only = settings(CHECK_PSI_ALERT=5, CHECK_JS_ALERT=0.22)
    neither = settings(CHECK_PSI_ALERT=0.28, CHECK_JS_ALERT=0.221)
    from shared.checks.stats import js_distance

    exact_js = js_distance([250.0, 250.0], [250.0, 750.0])  # as the check computes it
    exactly = settings(CHECK_PSI_ALERT=5, CHECK_JS_ALERT=repr(exact_js))
    above = settings(CHECK_PSI_ALERT=5, CHECK_JS_ALERT=repr(exact_js + 1e-12))
    assert drift_of(cls, 500, s=psi_only)["status"] == "alert"
    assert drift_of(cls, 500, s=js_only)["status"] == "alert"
    assert drift_of(cls, 500, s=neither)["status"] == "warning"
    assert drift_of(cls, 500, s=exactly)["status"] == "alert"
    assert drift_of(cls, 500, s=above)["status"] == "warning"


def test_prediction_drift_prefers_predicted_counts_then_labels_then_proportions():
    both = {"predictedClassCounts": {"0": 250, "1": 750}, "classCounts": {"0": 500, "1": 500},
            "classDistribution": {"0": 0.5, "1": 0.5}}
    assert drift_of({"0": 0.25, "1": 0.75}, 400, ref=both)["status"] == "ok"
    labels = {"classCounts": {"0": 250, "1": 750}, "classDistribution": {"0": 0.5, "1": 0.5}}
    f = drift_of({"0": 0.25, "1": 0.75}, 400, ref=labels)
    assert (f["status"], f["context"]["referenceSource"]) == ("ok", "classCounts")
    # proportions only: goodness of fit, the reference taken as exact:
    # chi2 = (40-25)^2/25 + (60-75)^2/75 = 12
    f = drift_of({"0": 0.4, "1": 0.6}, 100, ref={"classDistribution": {"0": 0.25, "1": 0.75}})
    assert f["context"]["chi2"] == pytest.approx(12.0)
    assert f["context"]["pValue"] == pytest.approx(p_df1(12.0), abs=1e-6)
    assert f["context"]["referenceRows"] is None and f["status"] == "warning"


def test_prediction_drift_classes_missing_on_one_side_count_as_zero():
    f = drift_of({"0": 1.0}, 200)
    assert f["status"] == "alert" and f["context"]["reference"] == {"0": 0.25, "1": 0.75}
    # p = [1 0], q = [.25 .75], m = [.625 .375]
    kl_p = math.log2(1 / 0.625)
    kl_q = 0.25 * math.log2(0.25 / 0.625) + 0.75 * math.log2(0.75 / 0.375)
    assert f["context"]["jsDistance"] == pytest.approx(math.sqrt((kl_p + kl_q) / 2), abs=1e-6)


def test_prediction_drift_trailing_window_sums_the_counts_of_every_run():
    hist = history(4, classes={"0": 0.25, "1": 0.75})
    f = drift_of({"0": 0.5, "1": 0.5}, 500, ref=None, hist=hist)
    assert (f["status"], f["firing"], f["context"]["historyRuns"]) == (
        "insufficient-history", False, 4)
    # 5 runs of 500 rows: [.2 .8], [.3 .7] and three at [.25 .75] -> 625 : 1875 summed
    hist = history(5, classes=[{"0": 0.2, "1": 0.8}, {"0": 0.3, "1": 0.7}]
                   + [{"0": 0.25, "1": 0.75}] * 3)
    f = drift_of({"0": 0.5, "1": 0.5}, 500, ref=None, hist=hist)
    assert f["context"]["referenceSource"] == "trailing-window"
    assert f["context"]["referenceRows"] == pytest.approx(2500)
    assert f["context"]["chi2"] == pytest.approx(chi2_by_hand([250, 250], [625, 1875]), abs=1e-5)
    assert f["status"] == "alert"
    # counts from classCounts where a run has them (here a different mix from its distribution)
    hist[0]["outputs"]["Score"]["classCounts"] = {"0": 500, "1": 0}
    f = drift_of({"0": 0.5, "1": 0.5}, 500, ref=None, hist=hist)
    assert f["context"]["chi2"] == pytest.approx(chi2_by_hand([250, 250], [1025, 1475]),
                                                 abs=1e-5)


def test_prediction_drift_trailing_window_of_proportions_only_averages_them():
    hist = history(5, classes=[{"0": 0.2, "1": 0.8}, {"0": 0.3, "1": 0.7}]
                   + [{"0": 0.25, "1": 0.75}] * 3, score_rows=0)
    f = drift_of({"0": 0.4, "1": 0.6}, 100, ref=None, hist=hist)
    assert f["context"]["reference"] == {"0": pytest.approx(0.25), "1": pytest.approx(0.75)}
    assert f["context"]["chi2"] == pytest.approx(12.0)


def test_prediction_drift_history_counts_only_succeeded_runs_of_the_kind():
    hist = history(5, classes={"0": 0.25, "1": 0.75})
    hist[0]["status"] = "failed"
    assert drift_of({"0": 0.5, "1": 0.5}, 500, ref=None, hist=hist)["status"] == (
        "insufficient-history")


def test_prediction_drift_on_too_few_rows_is_not_judged():
    f = drift_of({"0": 1.0}, 99)
    assert f["status"] == "insufficient-history" and not f["firing"]
    assert drift_of({"0": 1.0}, 100)["status"] == "alert"


def test_prediction_drift_needs_a_succeeded_scored_run():
    assert drift_of({}, 100) is None
    assert by_kind(evaluate_run(run(status="failed", classes={"0": 1.0}), [], REF, S),
                   "prediction_drift") is None


# --- feature and dataset drift -----------------------------------------------------------

def feature_ref(n=4, counts=(250, 250)):
    return {"featureStats": {"bins": [0, 8, 17],
                             "features": {f"p{i}": {"counts": list(counts)} for i in range(n)}}}


def features_of(out):
    return by_kind(out, "feature_drift"), by_kind(out, "dataset_drift")


def holm_by_hand(pvalues):
    order = sorted(pvalues, key=pvalues.get)
    out, running = {}, 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * pvalues[k]))
        out[k] = running
    return out


def test_feature_drift_by_hand_with_holm_across_features():
    # 500 rows per feature against 500 reference rows [250 250]
    feats = {"p0": [200, 300], "p1": [215, 285], "p2": [240, 260], "p3": [250, 250]}
    p = {f: p_df1(chi2_by_hand(c, [250, 250])) for f, c in feats.items()}
    adjusted = holm_by_hand(p)
    # p0: chi2 10.1, p .0015 -> x4 = .006 > .005 is not enough alone ... but p0 holds
    assert adjusted["p0"] > 0.005 and p["p0"] < 0.005  # Bonferroni/Holm matters here
    fd, dd = features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(), S))
    assert fd["context"]["drifted"] == [] and fd["status"] == "ok"
    assert fd["context"]["top"]["p0"]["pHolm"] == pytest.approx(adjusted["p0"], abs=1e-6)
    # a stronger p0 survives Holm: p0 [180 320] -> p ~ 1e-5
    feats["p0"] = [180, 320]
    fd, dd = features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(), S))
    assert fd["context"]["drifted"] == ["p0"]
    assert fd["subject"] == dd["subject"] == "dataset:labelled"
    # merged bins unchanged (both expect >= 5), PSI .0789 < .25: a warning
    assert fd["context"]["top"]["p0"]["psi"] == pytest.approx(
        (0.36 - 0.5) * math.log(0.36 / 0.5) + (0.64 - 0.5) * math.log(0.64 / 0.5), abs=1e-6)
    assert (fd["status"], fd["firing"], fd["severity"]) == ("warning", True, "Sev3")
    assert dd["context"]["driftedShare"] == pytest.approx(0.25)
    assert (dd["status"], dd["firing"]) == ("ok", False)


def test_feature_drift_alerts_when_a_drifted_feature_has_a_large_psi():
    feats = {"p0": [125, 375], "p1": [250, 250], "p2": [240, 260], "p3": [250, 250]}
    fd, _ = features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(), S))
    assert fd["context"]["largestDriftedPsi"] == pytest.approx(0.274653, abs=1e-6)
    assert (fd["status"], fd["firing"]) == ("alert", True)
    at = settings(CHECK_PSI_ALERT=0.274653)
    above = settings(CHECK_PSI_ALERT=0.2747)
    assert features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(),
                                    at))[0]["status"] == "alert"
    assert features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(),
                                    above))[0]["status"] == "warning"


def test_feature_drift_large_psi_on_a_small_sample_is_noise():
    # 20 rows [15 5] vs [500 500]: PSI .275 but chi2 p .027
    s = settings(CHECK_DRIFT_MIN_ROWS=20)
    assert p_df1(chi2_by_hand([15, 5], [500, 500])) > 0.02
    out = evaluate_run(run(features={"p0": [15, 5]}, rows_in=20), [],
                       feature_ref(1, (500, 500)), s)
    fd, dd = features_of(out)
    assert fd["context"]["top"]["p0"]["psi"] > S.check_psi_alert
    assert fd["status"] == "ok" and dd["status"] == "ok"


def test_dataset_drift_when_the_share_of_drifted_features_reaches_the_threshold():
    feats = {"p0": [125, 375], "p1": [375, 125], "p2": [240, 260], "p3": [250, 250]}
    out = evaluate_run(run(features=feats, rows_in=500), [], feature_ref(), S)
    fd, dd = features_of(out)
    assert sorted(fd["context"]["drifted"]) == ["p0", "p1"]
    assert (dd["status"], dd["severity"]) == ("alert", "Sev2")
    assert dd["context"]["driftedShare"] == pytest.approx(0.5)
    over = settings(CHECK_DATASET_DRIFT_SHARE=0.51)
    assert features_of(evaluate_run(run(features=feats, rows_in=500), [], feature_ref(),
                                    over))[1]["status"] == "ok"


def test_feature_drift_merges_sparse_bins_before_testing():
    # 3 bins; the last one holds 4 of 1,100 (expects .36 in the batch): merged into the
    # bin before -> 2 bins, df 1
    ref = {"featureStats": {"features": {"p0": {"counts": [500, 498, 2]}}}}
    cur = {"p0": [60, 38, 2]}
    fd, _ = features_of(evaluate_run(run(features=cur, rows_in=100), [], ref, S))
    assert fd["context"]["top"]["p0"]["pHolm"] == pytest.approx(
        p_df1(chi2_by_hand([60, 40], [500, 500])), abs=1e-6)


def test_feature_drift_skips_incomparable_histograms():
    feats = {"p0": [125, 375], "p1": [1, 2, 3], "p9": [250, 250], "p2": [0, 0]}
    fd = by_kind(evaluate_run(run(features=feats), [], feature_ref(), S), "feature_drift")
    assert fd["context"]["featuresEvaluated"] == 1
    assert sorted(fd["context"]["featuresSkipped"]) == ["p1", "p2", "p9"]
    none = evaluate_run(run(features={"p9": [1, 2]}), [], feature_ref(), S)
    for f in features_of(none):
        assert f["status"] == "insufficient-history" and f["context"]["featuresSkipped"] == ["p9"]


def test_feature_drift_without_reference_needs_history():
    feats = {"p0": [125, 375]}
    out = evaluate_run(run(features=feats), history(4, features=feats), None, S)
    assert by_kind(out, "feature_drift")["status"] == "insufficient-history"
    assert by_kind(out, "feature_drift")["context"]["historyRuns"] == 4
    assert by_kind(out, "dataset_drift")["status"] == "insufficient-history"
    # 5 batches at [250 250] summed into one reference of 2,500 rows
    hist = history(5, features={"p0": [250, 250]})
    out = evaluate_run(run(features=feats), hist, None, S)
    fd, dd = features_of(out)
    assert fd["context"]["referenceSource"] == "trailing-window"
    assert dd["status"] == "alert"
    near = {"p0": [235, 265]}
    fd, _ = features_of(evaluate_run(run(features=near), hist, None, S))
    assert fd["context"]["top"]["p0"]["pHolm"] == pytest.approx(
        p_df1(chi2_by_hand([235, 265], [1250, 1250])), abs=1e-6)
    # a batch whose histogram has other bins than the newest one's is left out of the sum
    hist[4]["outputs"]["Preprocess"]["featureStats"]["features"]["p0"]["counts"] = [1, 2, 3]
    fd, _ = features_of(evaluate_run(run(features=near), hist, None, S))
    assert fd["context"]["top"]["p0"]["pHolm"] == pytest.approx(
        p_df1(chi2_by_hand([235, 265], [1000, 1000])), abs=1e-6)


def test_feature_drift_on_too_few_rows_is_not_judged():
    out = evaluate_run(run(features={"p0": [50, 49]}, rows_in=99), [], feature_ref(), S)
    assert by_kind(out, "feature_drift")["status"] == "insufficient-history"
    out = evaluate_run(run(features={"p0": [50, 50]}, rows_in=100), [], feature_ref(), S)
    assert by_kind(out, "feature_drift")["status"] == "ok"


# --- file size and row count -------------------------------------------------------------
# The log-t score by hand: ln(1 + v) of the history has mean m and sd sd; the prediction
# error is sd * sqrt(1 + 1/n); with 3 batches (df 2) P(|T| >= t) = 1 - t / sqrt(2 + t^2).

def sizes(*logs):
    return [math.expm1(v) for v in logs]


S3 = settings(CHECK_MIN_HISTORY=3)


def test_size_and_rows_need_a_minimum_of_batches():
    out = evaluate_run(run(size=10**9, rows_in=10**6), history(4), None, S)
    for kind in ("file_size_anomaly", "row_count_anomaly"):
        f = by_kind(out, kind)
        assert (f["status"], f["firing"], f["context"]["historyBatches"]) == (
            "insufficient-history", False, 4)


def test_log_t_anomaly_by_hand():
    # history ln(1+size) = [27 28 29]: mean 28, sd 1, error sqrt(4/3); ln(1+x) = 28 + 28
    hist = history(3, size=sizes(27, 28, 29), rows_in=[10, 12, 11])
    out = evaluate_run(run(size=math.expm1(56), rows_in=11), hist, None, S3)
    f = by_kind(out, "file_size_anomaly")
    t = 28 / math.sqrt(4 / 3)
    assert f["context"]["t"] == pytest.approx(t, abs=1e-6)
    assert f["context"]["pValue"] == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-6)
    assert f["context"]["alpha"] == 0.005
    assert (f["subject"], f["status"], f["severity"]) == ("dataset:labelled", "alert", "Sev3")
    assert "above" in f["summary"]
    assert by_kind(out, "row_count_anomaly")["status"] == "ok"
    # too small is anomalous too
    low = by_kind(evaluate_run(run(size=0), hist, None, S3), "file_size_anomaly")
    assert low["status"] == "alert" and low["context"]["t"] == pytest.approx(-t, abs=1e-6)
    assert "below" in low["summary"]


def test_log_t_limit_is_the_two_sided_quantile_and_the_usual_range_matches_it():
    # df 2, alpha .005: 1 - t / sqrt(2 + t^2) = .005 -> t^2 = 2 c^2 / (1 - c^2), c = .995
    c = 0.995
    limit = math.sqrt(2 * c * c / (1 - c * c))
    hist = history(3, size=sizes(7, 8, 9))
    se = math.sqrt(4 / 3)
    inside = by_kind(evaluate_run(run(size=math.expm1(8 + 0.999 * limit * se)), hist, None, S3),
                     "file_size_anomaly")
    outside = by_kind(evaluate_run(run(size=math.expm1(8 + 1.001 * limit * se)), hist, None, S3),
                      "file_size_anomaly")
    assert inside["context"]["tLimit"] == pytest.approx(limit, rel=1e-6)
    assert (inside["status"], outside["status"]) == ("ok", "alert")
    lo, hi = inside["context"]["usualRange"]
    assert lo == pytest.approx(math.expm1(8 - limit * se), rel=1e-3)
    assert math.log1p(hi) == pytest.approx(8 + limit * se, rel=1e-6)
    assert inside["context"]["centre"] == pytest.approx(math.expm1(8), rel=1e-6)


def test_anomaly_rate_is_split_between_size_and_rows():
    hist = history(3, size=sizes(7, 8, 9))
    s = settings(CHECK_MIN_HISTORY=3, CHECK_ANOMALY_FALSE_ALARM_RATE=0.2)
    f = by_kind(evaluate_run(run(size=math.expm1(8)), hist, None, s), "file_size_anomaly")
    assert f["context"]["alpha"] == pytest.approx(0.1)


def test_history_of_another_kind_does_not_count():
    hist = history(5, kind="unlabelled")
    f = by_kind(evaluate_run(run(), hist, None, S), "file_size_anomaly")
    assert f["status"] == "insufficient-history"


def test_constant_history_flags_any_change_and_serialises_infinity():
    out = evaluate_run(run(size=1001), history(5, size=1000), None, S)
    f = by_kind(out, "file_size_anomaly")
    assert f["status"] == "alert" and f["context"]["t"] == "inf"
    same = by_kind(evaluate_run(run(size=1000), history(5, size=1000), None, S),
                   "file_size_anomaly")
    assert same["status"] == "ok" and same["context"]["t"] == 0


def test_row_count_anomaly_reads_rows_in():
    hist = history(5, rows_in=[1000, 1100, 900, 1050, 950])
    f = by_kind(evaluate_run(run(rows_in=5000), hist, None, S), "row_count_anomaly")
    assert f["status"] == "alert" and f["context"]["value"] == 5000


# --- rejected rows -----------------------------------------------------------------------

def test_rejected_rate_threshold():
    bad = by_kind(evaluate_run(run(rows_in=100, rejected=6), [], None, S), "rejected_rows")
    ok = by_kind(evaluate_run(run(rows_in=100, rejected=5), [], None, S), "rejected_rows")
    assert (bad["status"], bad["context"]["rate"]) == ("alert", 0.06)
    assert ok["status"] == "ok"  # 5% is at, not above, the limit


def test_feature_drift_fires_at_exactly_alpha_after_holm():
    from shared.checks.stats import chi2_two_sample

    feats = {"p0": [200, 300], "p1": [250, 250]}
    p = chi2_two_sample([200, 300], [250, 250]).p
    adjusted = 2 * p  # Holm with two features: the smallest is doubled
    at = settings(CHECK_DRIFT_FALSE_ALARM_RATE=repr(2 * adjusted))
    below = settings(CHECK_DRIFT_FALSE_ALARM_RATE=repr(2 * adjusted * (1 - 1e-9)))
    ref = feature_ref(2)
    assert features_of(evaluate_run(run(features=feats), [], ref, at))[0]["context"][
        "drifted"] == ["p0"]
    assert features_of(evaluate_run(run(features=feats), [], ref, below))[0]["context"][
        "drifted"] == []


def test_drifted_features_are_listed_by_adjusted_p_then_by_size():
    # p1 [200 300] p .0015 and p0 [201 299] p .0019: Holm ties them at .0030; p1 is larger
    feats = {"p0": [201, 299], "p1": [200, 300]}
    fd, _ = features_of(evaluate_run(run(features=feats), [], feature_ref(2), S))
    assert fd["context"]["top"]["p0"]["pHolm"] == fd["context"]["top"]["p1"]["pHolm"]
    assert fd["context"]["drifted"] == ["p1", "p0"]
    assert list(fd["context"]["top"]) == ["p1", "p0"]


def test_more_than_five_drifted_features_are_elided_in_the_summary():
    six = {f"p{i}": [100 + i, 400 - i] for i in range(6)}
    fd, _ = features_of(evaluate_run(run(features=six), [], feature_ref(6), S))
    assert fd["summary"].endswith(": p0, p1, p2, p3, p4 ...")
    five = {f"p{i}": [100 + i, 400 - i] for i in range(5)}
    fd, _ = features_of(evaluate_run(run(features=five), [], feature_ref(5), S))
    assert fd["summary"].endswith(": p0, p1, p2, p3, p4")


def test_a_quiet_batch_reports_no_largest_psi_and_a_feature_of_one_count_is_compared():
    fd, dd = features_of(evaluate_run(run(features={"p0": [250, 250]}), [], feature_ref(1), S))
    assert fd["context"]["largestDriftedPsi"] == 0.0
    assert fd["summary"] == "0 of 1 features drifted (Holm p <= 0.005)"
    one = {"featureStats": {"features": {"p0": {"counts": [1, 0]}}}}
    fd, _ = features_of(evaluate_run(run(features={"p0": [1, 0]}, rows_in=500), [], one, S))
    assert fd["context"]["featuresEvaluated"] == 1 and fd["context"]["featuresSkipped"] == []


def test_anomaly_fires_below_alpha_and_not_at_it():
    from shared.checks.stats import log_t, t_two_sided_p

    hist = history(5, size=[1000, 1100, 900, 1050, 950])
    t, _, _ = log_t(3000, [1000, 1100, 900, 1050, 950])
    p = t_two_sided_p(t, 4)
    at = settings(CHECK_ANOMALY_FALSE_ALARM_RATE=repr(2 * p))
    over = settings(CHECK_ANOMALY_FALSE_ALARM_RATE=repr(2 * p * (1 + 1e-9)))
    assert by_kind(evaluate_run(run(size=3000), hist, None, at), "file_size_anomaly")[
        "status"] == "ok"
    assert by_kind(evaluate_run(run(size=3000), hist, None, over), "file_size_anomaly")[
        "status"] == "alert"


def test_history_window_bounds_every_history_check():
    s = settings(CHECK_HISTORY_WINDOW=5)
    # sizes: a sixth, older batch far off would widen the interval if it were counted
    hist = history(5, size=[1000, 1100, 900, 1050, 950]) + [run(batch="old", size=10**7)]
    f = by_kind(evaluate_run(run(size=3000), hist, None, s), "file_size_anomaly")
    assert f["context"]["historyBatches"] == 5 and f["status"] == "alert"
    # predictions and features: the trailing window sums only the last five
    hist = history(5, classes={"0": 0.25, "1": 0.75}) + [
        run(batch="old", classes={"0": 1.0}, features={"p0": [500, 0]})]
    for h in hist[:5]:
        h["outputs"]["Preprocess"]["featureStats"] = {"features": {"p0": {"counts": [250, 250]}}}
    out = evaluate_run(run(classes={"0": 0.25, "1": 0.75}, features={"p0": [250, 250]}), hist,
                       None, s)
    assert by_kind(out, "prediction_drift")["context"]["referenceRows"] == pytest.approx(2500)
    assert by_kind(out, "feature_drift")["context"]["top"]["p0"]["pHolm"] == 1.0


def test_rows_and_rejects_with_missing_or_zero_counts():
    r = run()
    del r["outputs"]["Preprocess"]["rowsIn"]
    assert by_kind(evaluate_run(r, history(5), None, S), "row_count_anomaly") is None
    assert by_kind(evaluate_run(r, [], None, S), "rejected_rows") is None
    r = run()
    r["outputs"]["Preprocess"]["rowsRejected"] = None
    assert by_kind(evaluate_run(r, [], None, S), "rejected_rows") is None
    zero = by_kind(evaluate_run(run(rows_in=0, rejected=0), [], None, S), "rejected_rows")
    assert (zero["status"], zero["context"]["rate"]) == ("ok", 0.0)
    r = run(rows_in=0)
    r["outputs"]["Preprocess"]["rowsRejected"] = 3
    all_bad = by_kind(evaluate_run(r, [], None, S), "rejected_rows")
    assert (all_bad["status"], all_bad["context"]["rate"]) == ("alert", 1.0)
    one = by_kind(evaluate_run(run(rows_in=1, rejected=1), [], None, S), "rejected_rows")
    assert one["context"]["rate"] == 1.0


def test_rejected_rows_finding_in_full():
    r = run(batch="b7", rows_in=100, rejected=6)
    r["outputs"]["Preprocess"]["rejectReasons"] = {"non_numeric": 6}
    assert by_kind(evaluate_run(r, [], None, S), "rejected_rows") == {
        "kind": "rejected_rows", "subject": "dataset:labelled", "severity": "Sev2",
        "firing": True, "status": "alert", "summary": "6 of 100 rows rejected (6.0%, limit 5.0%)",
        "context": {"batchId": "b7", "rowsIn": 100, "rowsRejected": 6, "rate": 0.06,
                    "maxRate": 0.05, "reasons": {"non_numeric": 6}}}


def test_anomaly_summaries_name_the_direction_and_show_infinity():
    out = evaluate_run(run(size=1001), history(5, size=1000), None, S)
    f = by_kind(out, "file_size_anomaly")
    assert f["summary"] == ("batch size in bytes 1001 is far above the last 5 batches (usual "
                            "1000 to 1000; log-t inf, p 0 < 0.005)")
    low = by_kind(evaluate_run(run(size=999), history(5, size=1000), None, S),
                  "file_size_anomaly")
    assert "far below" in low["summary"] and "log-t -inf" in low["summary"]
