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

REF = {"classDistribution": {"0": 0.25, "1": 0.75}}


def test_prediction_drift_against_the_reference_by_hand():
    f = by_kind(evaluate_run(run(classes={"0": 0.5, "1": 0.5}), [], REF, S), "prediction_drift")
    # PSI 0.274653 (alert band >= .25); JS distance of [.5 .5] vs [.25 .75]
    assert f["context"]["psi"] == pytest.approx(0.274653, abs=1e-6)
    m = [0.375, 0.625]
    js = math.sqrt((0.5 * math.log2(0.5 / m[0]) + 0.5 * math.log2(0.5 / m[1])
                    + 0.25 * math.log2(0.25 / m[0]) + 0.75 * math.log2(0.75 / m[1])) / 2)
    assert f["context"]["jsDistance"] == pytest.approx(js, abs=1e-6)
    assert (f["subject"], f["status"], f["firing"]) == ("predictions", "alert", True)


def test_prediction_drift_bands():
    same = by_kind(evaluate_run(run(classes={"0": 0.25, "1": 0.75}), [], REF, S),
                   "prediction_drift")
    assert same["status"] == "ok" and same["context"]["psi"] == pytest.approx(0)
    # [.35 .65]: PSI = .1 ln(1.4) + .1 ln(.75/.65) = 0.0480, JS 0.0928: both ok
    mild = by_kind(evaluate_run(run(classes={"0": 0.35, "1": 0.65}), [], REF, S),
                   "prediction_drift")
    assert mild["context"]["psi"] == pytest.approx(0.1 * math.log(0.35 / 0.25)
                                                   + 0.1 * math.log(0.75 / 0.65), abs=1e-6)
    assert mild["status"] == "ok"
    # [.4 .6]: PSI = .15 ln 1.6 + .15 ln 1.25 = 0.1040 -> warning band
    warn = by_kind(evaluate_run(run(classes={"0": 0.4, "1": 0.6}), [], REF, S), "prediction_drift")
    assert warn["context"]["psi"] == pytest.approx(0.15 * math.log(1.6) + 0.15 * math.log(1.25),
                                                   abs=1e-6)
    assert (warn["status"], warn["firing"], warn["severity"]) == ("warning", True, "Sev3")


def test_prediction_drift_classes_missing_on_one_side_count_as_zero():
    f = by_kind(evaluate_run(run(classes={"0": 1.0}), [], REF, S), "prediction_drift")
    assert f["status"] == "alert"
    # p = [1 0], q = [.25 .75], m = [.625 .375]
    kl_p = math.log2(1 / 0.625)
    kl_q = 0.25 * math.log2(0.25 / 0.625) + 0.75 * math.log2(0.75 / 0.375)
    assert f["context"]["jsDistance"] == pytest.approx(math.sqrt((kl_p + kl_q) / 2), abs=1e-6)


def test_prediction_drift_trailing_window_needs_history():
    hist = history(4, classes={"0": 0.25, "1": 0.75})
    f = by_kind(evaluate_run(run(classes={"0": 0.5, "1": 0.5}), hist, None, S), "prediction_drift")
    assert (f["status"], f["firing"]) == ("insufficient-history", False)
    hist = history(5, classes=[{"0": 0.2, "1": 0.8}, {"0": 0.3, "1": 0.7}] + [REF[
        "classDistribution"]] * 3)
    f = by_kind(evaluate_run(run(classes={"0": 0.5, "1": 0.5}), hist, None, S), "prediction_drift")
    assert f["context"]["referenceSource"] == "trailing-window"
    assert f["context"]["reference"] == {"0": pytest.approx(0.25), "1": pytest.approx(0.75)}
    assert f["status"] == "alert"


def test_prediction_drift_on_too_few_rows_is_not_judged():
    f = by_kind(evaluate_run(run(classes={"0": 1.0}, score_rows=10), [], REF, S),
                "prediction_drift")
    assert f["status"] == "insufficient-history" and not f["firing"]


# --- feature and dataset drift -----------------------------------------------------------

def feature_ref(n=4):
    return {"featureStats": {"bins": [0, 8, 17],
                             "features": {f"p{i}": {"counts": [250, 250]} for i in range(n)}}}


def test_feature_drift_by_hand():
    # p0 at [125 375] vs [250 250]: PSI = .25 ln 2 + .25 ln 1.5... mirrored: .274653 >= .25
    feats = {"p0": [125, 375], "p1": [250, 250], "p2": [240, 260], "p3": [250, 250]}
    out = evaluate_run(run(features=feats), [], feature_ref(), S)
    fd, dd = by_kind(out, "feature_drift"), by_kind(out, "dataset_drift")
    assert fd["subject"] == dd["subject"] == "dataset:labelled"
    assert fd["context"]["topPsi"]["p0"] == pytest.approx(0.274653, abs=1e-6)
    assert fd["context"]["drifted"] == ["p0"]
    assert (fd["status"], fd["firing"]) == ("warning", True)
    assert dd["context"]["driftedShare"] == pytest.approx(0.25)
    assert (dd["status"], dd["firing"]) == ("ok", False)


def test_dataset_drift_when_half_the_features_drift():
    feats = {"p0": [125, 375], "p1": [375, 125], "p2": [240, 260], "p3": [250, 250]}
    dd = by_kind(evaluate_run(run(features=feats), [], feature_ref(), S), "dataset_drift")
    assert (dd["status"], dd["severity"]) == ("alert", "Sev2")
    assert dd["context"]["driftedShare"] == pytest.approx(0.5)


def test_feature_drift_skips_incomparable_histograms():
    feats = {"p0": [125, 375], "p1": [1, 2, 3], "p9": [250, 250]}
    fd = by_kind(evaluate_run(run(features=feats), [], feature_ref(), S), "feature_drift")
    assert fd["context"]["featuresEvaluated"] == 1
    assert sorted(fd["context"]["featuresSkipped"]) == ["p1", "p9"]


def test_feature_drift_without_reference_needs_history():
    feats = {"p0": [125, 375]}
    out = evaluate_run(run(features=feats), history(3, features=feats), None, S)
    assert by_kind(out, "feature_drift")["status"] == "insufficient-history"
    assert by_kind(out, "dataset_drift")["status"] == "insufficient-history"
    # 5 batches at [250 250] summed -> the same shape as the reference
    out = evaluate_run(run(features=feats), history(5, features={"p0": [250, 250]}), None, S)
    assert by_kind(out, "dataset_drift")["status"] == "alert"


def test_feature_drift_on_too_few_rows_is_not_judged():
    out = evaluate_run(run(features={"p0": [5, 15]}, rows_in=20), [], feature_ref(), S)
    assert by_kind(out, "feature_drift")["status"] == "insufficient-history"


# --- file size and row count -------------------------------------------------------------

def test_size_and_rows_need_a_minimum_of_batches():
    out = evaluate_run(run(size=10**9, rows_in=10**6), history(4), None, S)
    for kind in ("file_size_anomaly", "row_count_anomaly"):
        f = by_kind(out, kind)
        assert (f["status"], f["firing"], f["context"]["historyBatches"]) == (
            "insufficient-history", False, 4)


def test_robust_z_anomaly_by_hand():
    # sizes [10 12 11 13 9] (x100): median 1100, MAD 100; 2000 -> z = .6745 * 9 = 6.07
    hist = history(5, size=[1000, 1200, 1100, 1300, 900], rows_in=[10, 12, 11, 13, 9])
    out = evaluate_run(run(size=2000, rows_in=11), hist, None, S)
    f = by_kind(out, "file_size_anomaly")
    assert f["context"]["z"] == pytest.approx(0.6745 * 9, abs=1e-6)
    assert (f["subject"], f["status"], f["severity"]) == ("dataset:labelled", "alert", "Sev3")
    assert by_kind(out, "row_count_anomaly")["status"] == "ok"
    # 1300 -> z = 1.349: usual; and too small is anomalous too: 500 -> z = -4.05
    assert by_kind(evaluate_run(run(size=1300), hist, None, S), "file_size_anomaly")[
        "status"] == "ok"
    low = by_kind(evaluate_run(run(size=500), hist, None, S), "file_size_anomaly")
    assert low["status"] == "alert" and low["context"]["z"] == pytest.approx(-0.6745 * 6)


def test_history_of_another_kind_does_not_count():
    hist = history(5, kind="unlabelled")
    f = by_kind(evaluate_run(run(), hist, None, S), "file_size_anomaly")
    assert f["status"] == "insufficient-history"


def test_constant_history_flags_any_change_and_serialises_infinity():
    out = evaluate_run(run(size=1001), history(5, size=1000), None, S)
    f = by_kind(out, "file_size_anomaly")
    assert f["status"] == "alert" and f["context"]["z"] == "inf"


# --- rejected rows -----------------------------------------------------------------------

def test_rejected_rate_threshold():
    bad = by_kind(evaluate_run(run(rows_in=100, rejected=6), [], None, S), "rejected_rows")
    ok = by_kind(evaluate_run(run(rows_in=100, rejected=5), [], None, S), "rejected_rows")
    assert (bad["status"], bad["context"]["rate"]) == ("alert", 0.06)
    assert ok["status"] == "ok"  # 5% is at, not above, the limit
