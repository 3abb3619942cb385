"""The checks on a regression feed: metric regression where lower is better, and prediction
drift on a histogram of predicted values (the same two-sample test as the class mix)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.checks.drift import prediction_drift
from shared.checks.model_checks import metric_regression
from shared.checks.profile import Profile
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
REG = Profile(task="regression", metric="rmse", direction="lower", tolerance=2.0)
EDGES = [-1e308, 100.0, 150.0, 200.0, 1e308]


def trained(rmse, champion=None, promoted=True, batch="b-now"):
    train = {"modelVersion": f"m-{batch}", "promoted": promoted, "metrics": {"rmse": rmse},
             "championVersion": "m-champ" if champion is not None else None,
             "championMetrics": {"rmse": champion} if champion is not None else None}
    return {"batchId": batch, "kind": "labelled", "status": "succeeded",
            "outputs": {"Train": train}}


def scored(counts, edges=EDGES, batch="b-now"):
    return {"batchId": batch, "kind": "unlabelled", "status": "succeeded", "outputs": {
        "Score": {"rows": sum(counts), "predictionHistogram": {"edges": edges, "counts": counts}}}}


@pytest.mark.parametrize("rmse, champion, promoted, status", [
    (52.0, 50.0, True, "ok"),  # worse by exactly the tolerance: holds up
    (52.5, 50.0, True, "alert"),  # worse by more, and promoted: production got worse
    (52.5, 50.0, False, "warning"),  # worse, but the champion stayed
    (40.0, 50.0, True, "ok"),  # lower is better
])
def test_metric_regression_where_lower_is_better(rmse, champion, promoted, status):
    f = metric_regression(trained(rmse, champion, promoted), [], S, REG)[0]
    assert f["status"] == status
    ctx = f["context"]
    assert (ctx["metric"], ctx["direction"], ctx["value"], ctx["championValue"],
            ctx["tolerance"]) == ("rmse", "lower", rmse, champion, 2.0)
    assert "accuracy" not in ctx  # the accuracy names are for the accuracy metric only
    if status != "ok":
        assert f["summary"] == f"rmse {rmse:.4f} is more than 2 above champion m-champ (50.0000)"


def test_metric_regression_against_the_median_of_recent_runs_lower_is_better():
    history = [trained(v, batch=f"b{i}") for i, v in enumerate([50, 51, 49, 50, 52])]
    assert metric_regression(trained(52.0), history, S, REG)[0]["status"] == "ok"
    f = metric_regression(trained(52.1), history, S, REG)[0]
    assert (f["status"], f["context"]["medianValue"]) == ("alert", 50.0)
    assert "above the median of the last 5 runs (50.0000)" in f["summary"]


def test_tolerance_defaults_to_the_setting_and_accuracy_keeps_its_names():
    s = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                       "CHECK_ACCURACY_TOLERANCE": "0.05"})
    run = {"batchId": "b", "status": "succeeded", "outputs": {"Train": {
        "modelVersion": "m", "promoted": True, "accuracy": 0.80, "championVersion": "c",
        "championAccuracy": 0.86}}}
    f = metric_regression(run, [], s)[0]
    assert (f["status"], f["context"]["tolerance"]) == ("alert", 0.05)
    assert (f["context"]["accuracy"], f["context"]["championAccuracy"]) == (0.8, 0.86)
    assert f["summary"].startswith("accuracy 0.8000 is more than 0.05 below champion c")


def test_prediction_drift_on_a_histogram_against_the_reference_by_hand():
    ref = {"predictionHistogram": {"edges": EDGES, "counts": [250, 250, 250, 250]}}
    same = prediction_drift(scored([50, 50, 50, 50]), [], ref, S, REG)[0]
    assert (same["status"], same["context"]["pValue"], same["context"]["psi"]) == ("ok", 1.0, 0.0)
    assert same["context"]["referenceSource"] == "predictionHistogram"
    assert same["summary"].startswith("predicted values:")
    shifted = prediction_drift(scored([10, 30, 60, 100]), [], ref, S, REG)[0]
    # 2 x 4 table by hand: chi2 = sum over cells of (obs - exp)^2 / exp
    obs = [[10, 30, 60, 100], [250] * 4]
    cols = [a + b for a, b in zip(*obs, strict=True)]
    exp = [[c * 200 / 1200 for c in cols], [c * 1000 / 1200 for c in cols]]
    chi2 = sum((o - e) ** 2 / e for ro, re in zip(obs, exp, strict=True)
               for o, e in zip(ro, re, strict=True))
    assert shifted["context"]["chi2"] == pytest.approx(chi2, abs=1e-5)
    assert shifted["context"]["df"] == 3 and shifted["status"] == "alert"


def test_a_histogram_binned_differently_from_the_reference_falls_back_to_recent_runs():
    ref = {"predictionHistogram": {"edges": [0.0, 1.0, 2.0], "counts": [5, 5]}}
    f = prediction_drift(scored([50, 50, 50, 50]), [], ref, S, REG)[0]
    assert (f["status"], f["context"]["referenceSource"]) == ("insufficient-history",
                                                              "trailing-window")
    history = [scored([50, 50, 50, 50], batch=f"b{i}") for i in range(5)]
    history.append(scored([1, 1], edges=[0.0, 1.0, 2.0], batch="other-bins"))
    f = prediction_drift(scored([50, 50, 50, 50]), history, ref, S, REG)[0]
    assert (f["status"], f["context"]["referenceRows"]) == ("ok", 1000)


COUNTS = st.lists(st.integers(0, 400), min_size=2, max_size=8).filter(lambda c: sum(c) >= 100)


@settings(max_examples=60, deadline=None)
@given(COUNTS, st.integers(1, 5))
def test_a_batch_shaped_exactly_like_the_reference_never_fires(counts, k):
    edges = [float(i) for i in range(len(counts) + 1)]
    ref = {"predictionHistogram": {"edges": edges, "counts": [c * k for c in counts]}}
    f = prediction_drift(scored(counts, edges), [], ref, S, REG)[0]
    assert f["firing"] is False and f["context"]["psi"] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(COUNTS, COUNTS)
def test_a_histogram_is_judged_exactly_as_the_class_mix_with_the_same_counts(cur, ref):
    n = min(len(cur), len(ref))
    cur, ref = cur[:n], ref[:n]
    if sum(cur) < 100 or sum(ref) == 0:
        return
    edges = [float(i) for i in range(n + 1)]
    as_values = prediction_drift(scored(cur, edges), [],
                                 {"predictionHistogram": {"edges": edges, "counts": ref}},
                                 S, REG)[0]
    as_classes = prediction_drift(
        {"batchId": "b-now", "status": "succeeded", "outputs": {"Score": {
            "rows": sum(cur), "classCounts": {str(i): c for i, c in enumerate(cur)}}}},
        [], {"predictedClassCounts": {str(i): c for i, c in enumerate(ref)}}, S)[0]
    for key in ("status", "severity"):
        assert as_values[key] == as_classes[key]
    for key in ("pValue", "chi2", "df", "psi", "jsDistance"):
        assert as_values["context"][key] == as_classes["context"][key]


@settings(max_examples=80, deadline=None)
@given(st.floats(1, 100), st.floats(1, 100), st.floats(0, 10), st.floats(0, 10))
def test_a_worse_rmse_fires_whenever_a_better_one_does(champion, rmse, tol, extra):
    profile = Profile(task="regression", metric="rmse", direction="lower", tolerance=tol)
    fired = metric_regression(trained(rmse, champion), [], S, profile)[0]["firing"]
    worse = metric_regression(trained(rmse + extra, champion), [], S, profile)[0]["firing"]
    assert worse or not fired
    assert fired == (rmse > champion + tol)


def _renamed(record: dict, names: dict[str, str]) -> dict:
    return {**record, "outputs": {names.get(k, k): v for k, v in record["outputs"].items()}}


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_check_finds_its_outputs_by_role_whatever_the_activities_are_called(task):
    """A feed whose activities are Clean, Fit and Predict is judged exactly as one whose
    activities have the default names: every check reads through the feed's roles."""
    from shared.checks import evaluate_run

    rng = __import__("numpy").random.default_rng(3)

    def record(i: int, shift: float = 0.0) -> dict:
        counts = [int(c) for c in rng.multinomial(400, [0.25 + shift, 0.25, 0.25, 0.25 - shift])]
        score = ({"rows": 400, "predictionHistogram": {"edges": EDGES, "counts": counts}}
                 if task == "regression" else
                 {"rows": 400, "classCounts": {str(c): n for c, n in enumerate(counts)}})
        metric = {"rmse": 50.0 + i} if task == "regression" else {"accuracy": 0.9 - i / 100}
        return {"batchId": f"b{i}", "kind": "labelled", "status": "succeeded", "pipeline": "p",
                "durationSeconds": 100.0, "files": [{"name": "f", "size": 1000 + 10 * i}],
                "outputs": {
                    "Preprocess": {"rowsIn": 400 + i, "rowsOut": 390, "rowsRejected": 10 + i,
                                   "featureStats": {"features": {
                                       "a": {"counts": counts}, "b": {"counts": counts[::-1]}}}},
                    "Train": {"modelVersion": f"m{i}", "promoted": True, "metrics": metric,
                              "championVersion": "c", "championMetrics": metric},
                    "Score": score}}

    history = [record(i) for i in range(1, 8)]
    run = record(20, shift=0.15)
    default = Profile(task=task, metric="rmse" if task == "regression" else "accuracy",
                      direction="lower" if task == "regression" else "higher")
    names = {"Preprocess": "Clean", "Train": "Fit", "Score": "Predict"}
    renamed = Profile(default.task, default.metric, default.direction, None,
                      {"data": "Clean", "metrics": "Fit", "predictions": "Predict"})
    want = evaluate_run(run, history, None, S, default)
    got = evaluate_run(_renamed(run, names), [_renamed(h, names) for h in history], None, S,
                       renamed)

    def comparable(findings):
        return sorted((f["kind"], f["subject"], f["status"], f["summary"].replace("Clean/", "")
                       .replace("Fit/", "").replace("Predict/", "")
                       .replace("Preprocess/", "").replace("Train/", "").replace("Score/", ""))
                      for f in findings)

    assert comparable(got) == comparable(want)
    kinds = {f["kind"]: f["status"] for f in want}
    # every check that reads an output had something to say, and some fired
    assert {"metric_regression", "prediction_drift", "feature_drift", "row_count_anomaly",
            "file_size_anomaly", "rejected_rows"} <= set(kinds)
    assert kinds["prediction_drift"] != "ok" and kinds["metric_regression"] != "ok"
    assert kinds["row_count_anomaly"] != "insufficient-history"
    assert not any(f["kind"] == "contract" and f["firing"] for f in got)


# --- metric_regression field by field -------------------------------------------------------

def test_metric_regression_finding_field_by_field():
    f = metric_regression(trained(53.0, 50.0, promoted=False, batch="b5"), [], S, REG)[0]
    assert f == {
        "kind": "metric_regression", "subject": "model", "severity": "Sev3", "firing": True,
        "status": "warning",
        "summary": "rmse 53.0000 is more than 2 above champion m-champ (50.0000)",
        "context": {"batchId": "b5", "modelVersion": "m-b5", "metric": "rmse",
                    "direction": "lower", "value": 53.0, "tolerance": 2.0, "promoted": False,
                    "championVersion": "m-champ", "championValue": 50.0, "historyRuns": 0}}
    none = metric_regression(trained(53.0, batch="b6"), [trained(50.0, batch="h")], S, REG)[0]
    same = {k: v for k, v in f["context"].items() if k not in ("championVersion", "championValue")}
    assert none == {**f, "severity": "Sev4", "firing": False, "status": "insufficient-history",
                    "summary": "no champion to compare with and 1 training runs in history, "
                               "5 needed",
                    "context": {**same, "batchId": "b6", "modelVersion": "m-b6",
                                "promoted": True, "historyRuns": 1}}
    ok = metric_regression(trained(50.0, 50.0), [], S, REG)[0]
    assert (ok["subject"], ok["summary"]) == ("model", "rmse 50.0000 holds up")


def test_a_champion_is_compared_only_when_it_is_another_model_with_a_value():
    no_value = trained(60.0)
    no_value["outputs"]["Train"]["championVersion"] = "m-champ"  # but no champion metric
    assert metric_regression(no_value, [], S, REG)[0]["status"] == "insufficient-history"
    itself = trained(60.0, 50.0)
    itself["outputs"]["Train"]["championVersion"] = "m-b-now"  # a retried run that won
    assert metric_regression(itself, [], S, REG)[0]["status"] == "insufficient-history"


def test_only_the_history_window_counts_toward_the_median():
    s = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                       "CHECK_HISTORY_WINDOW": "2", "CHECK_MIN_HISTORY": "2"})
    history = [trained(v, batch=f"b{i}") for i, v in enumerate([50, 50, 90, 90, 90])]
    f = metric_regression(trained(53.0), history, s, REG)[0]
    assert (f["status"], f["context"]["medianValue"], f["context"]["historyRuns"]) == (
        "alert", 50.0, 2)
