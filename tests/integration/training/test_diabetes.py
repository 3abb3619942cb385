"""The example regression feed for real against Azurite, the way Batch runs it: preprocess,
train (a good model, then a weak one), score a clean and a drifted batch; every output meets
the contract, and the checks judge them: the weak model is a metric regression (RMSE, lower
is better) and the drifted batch a prediction drift on the histogram of predicted values."""
from __future__ import annotations

import csv
import io

from shared.checks import evaluate_run
from shared.checks.contract import problems
from shared.checks.profile import DATA, METRICS, PREDICTIONS, REFERENCE, Profile
from shared.settings import load_settings
from training.blobs import split_path
from training.diabetes import data
from training.diabetes.generate import make_batch

FEED = Profile(task="regression", metric="rmse", direction="lower", tolerance=1.0)
S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})


def _preprocess(ml_env, batch_id: str, kind: str, rows: int, variant: str, seed: int):
    name = f"diabetes/{kind}/2026/11/26/{batch_id}.csv"
    batch = make_batch(kind, rows, variant, seed)
    ml_env.store.write_bytes(ml_env.landing, name, batch.csv)
    res = ml_env.run("diabetes.preprocess", batchId=batch_id,
                     manifestPath=ml_env.manifest(batch_id, kind, [name]))
    assert res.code == 0, res.stderr
    return batch, res.outputs


def _record(batch_id, **outputs):
    return {"batchId": batch_id, "kind": "x", "status": "succeeded", "pipeline": "p",
            "durationSeconds": 1.0, "outputs": outputs}


def test_the_regression_feed_writes_the_contract_and_is_judged_by_it(ml_env):
    batch, pre = _preprocess(ml_env, "d-lab", "labelled", 400, "malformed", seed=1)
    assert pre["rejectReasons"] == batch.expected_rejects and pre["rowsRejected"] > 0
    assert pre["rowsOut"] == batch.expected_kept == pre["rowsIn"] - pre["rowsRejected"]
    assert set(pre["featureStats"]["features"]) == set(data.FEATURES)
    assert problems(pre, DATA, FEED) == []
    rejected = list(csv.DictReader(io.StringIO(ml_env.store.read_bytes(
        *split_path(pre["quarantinePath"])).decode())))
    assert len(rejected) == pre["rowsRejected"]

    no_model = ml_env.run("diabetes.score", batchId="d-lab", mode="score_only")
    assert no_model.code == 2 and "no champion model yet" in no_model.stderr

    good = ml_env.run("diabetes.train", batchId="d-lab")
    assert good.code == 0, good.stderr
    g = good.outputs
    assert (g["decision"], g["promoted"], g["primaryMetric"]) == ("first-model", True, "rmse")
    assert 40 < g["metrics"]["rmse"] < 70 and g["metrics"]["r2"] > 0.2
    assert problems(g, METRICS, FEED) == []
    reference = ml_env.store.read_json(*split_path(g["referencePath"]))
    assert problems(reference, REFERENCE, FEED) == []
    assert sum(reference["predictionHistogram"]["counts"]) == g["trainRows"]
    assert reference["rows"] == pre["rowsOut"] == g["trainRows"] + g["holdoutRows"]

    weak = ml_env.run("diabetes.train", batchId="d-lab", trainOptions='{"alpha": 1e6}')
    assert weak.code == 0, weak.stderr
    w = weak.outputs
    assert (w["decision"], w["promoted"]) == ("kept-champion", False)
    assert w["metrics"]["rmse"] > g["metrics"]["rmse"] + 5
    assert w["championMetrics"] == {"rmse": g["metrics"]["rmse"]}
    regression = next(f for f in evaluate_run(_record("d-weak", Train=w), [], None, S, FEED)
                      if f["kind"] == "metric_regression")
    assert (regression["status"], regression["context"]["metric"]) == ("warning", "rmse")

    judged = {}
    for variant, seed in (("clean", 2), ("drifted", 3)):
        _, p = _preprocess(ml_env, f"d-{variant}", "unlabelled", 600, variant, seed)
        scored = ml_env.run("diabetes.score", batchId=f"d-{variant}", mode="score_only")
        assert scored.code == 0, scored.stderr
        s = scored.outputs
        assert s["modelVersion"] == g["modelVersion"] and s["rows"] == 600
        assert s["predictionHistogram"]["edges"] == reference["predictionHistogram"]["edges"]
        assert sum(s["predictionHistogram"]["counts"]) == 600
        assert problems(s, PREDICTIONS, FEED) == []
        lines = ml_env.store.read_bytes(*split_path(s["predictionsPath"])).decode().splitlines()
        assert lines[0] == "id,prediction" and len(lines) == 601
        out = evaluate_run(_record(f"d-{variant}", Preprocess=p, Score=s), [], reference, S, FEED)
        judged[variant] = {f["kind"]: f for f in out}
        assert all(f["status"] == "ok" for f in out if f["kind"] == "contract")
    assert not judged["clean"]["prediction_drift"]["firing"]
    assert not judged["clean"]["feature_drift"]["firing"]
    assert judged["drifted"]["prediction_drift"]["firing"]
    drifted = judged["drifted"]["feature_drift"]
    assert drifted["firing"] and {"age", "bmi", "bp", "s5"} <= set(drifted["context"]["drifted"])
