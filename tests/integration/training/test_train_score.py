"""train and score for real against Azurite: accuracy on the digits hold-out,
champion/challenger both ways, one prediction per input row, clear failures."""
from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from shared.checks.contract import problems
from shared.checks.profile import METRICS, PREDICTIONS, REFERENCE
from training import digits
from training.champion import Pointer, read_pointer, write_pointer
from training.curated import iter_shards, read_manifest
from training.generate import make_batch

pytestmark = pytest.mark.slow
WEAK = '{"epochs": 1, "hiddenUnits": 2}'


def _curate(ml_env, batch_id: str, kind: str, rows: int, variant: str, seed: int) -> dict:
    name = f"{kind}/2026/02/03/{batch_id}.csv"
    ml_env.store.write_bytes(ml_env.landing, name, make_batch(kind, rows, variant, seed).csv)
    res = ml_env.run("preprocess", batchId=batch_id, manifestPath=ml_env.manifest(batch_id, kind, [name]))
    assert res.code == 0, res.stderr
    return res.outputs


def test_champion_challenger_and_scoring(ml_env):
    # no champion yet: scoring fails clearly
    _curate(ml_env, "b-unl", "unlabelled", 700, "malformed", seed=21)
    none = ml_env.run("score", batchId="b-unl", mode="score_only")
    assert none.code != 0 and "no champion model yet" in none.stderr

    pre = _curate(ml_env, "b-lab", "labelled", 1437, "clean", seed=11)

    # 1. a weak first model becomes champion (nothing to compare with)
    weak = ml_env.run("train", batchId="b-lab", trainOptions=WEAK)
    assert weak.code == 0, weak.stderr
    w = weak.outputs
    assert (w["decision"], w["promoted"], w["championVersion"]) == ("first-model", True, None)
    assert w["accuracy"] < 0.5

    # 2. a good model is better on the same held-out rows: promoted
    good = ml_env.run("train", batchId="b-lab")
    assert good.code == 0, good.stderr
    g = good.outputs
    assert g["accuracy"] >= 0.93
    assert (g["decision"], g["promoted"], g["championVersion"]) == ("promoted", True, w["modelVersion"])
    assert g["championAccuracy"] == pytest.approx(w["accuracy"])
    assert g["tolerance"] == 0.01 and g["holdoutRows"] + g["trainRows"] == pre["rowsOut"]
    ptr = read_pointer(ml_env.store, ml_env.ml)
    assert ptr.doc["version"] == g["modelVersion"] and ptr.doc["modelPath"] == g["modelPath"]

    # the model also reaches 0.93 on the reserved digits it can never have seen
    from training import model as mdl
    from training.blobs import split_path

    net = mdl.from_bytes(ml_env.store.read_bytes(*split_path(g["modelPath"])))
    X_res, y_res = digits.reserved_holdout()
    assert mdl.metrics_from(y_res, mdl.predict_proba(net, X_res))["accuracy"] >= 0.93

    # model folder: metrics, card, drift reference
    folder = f"models/{g['modelVersion']}/"
    metrics = ml_env.store.read_json(ml_env.ml, folder + "metrics.json")
    assert metrics["accuracy"] == g["accuracy"] and set(metrics["perClass"]) == {str(c) for c in range(10)}
    assert np.array(metrics["confusionMatrix"]).sum() == g["holdoutRows"]
    card = ml_env.store.read_json(ml_env.ml, folder + "model_card.json")
    assert card["codeVersion"] == "test" and len(card["dataHash"]) == 64
    assert card["parameters"]["epochs"] == 40 and card["batchId"] == "b-lab"
    ref = ml_env.store.read_json(ml_env.ml, folder + "reference.json")
    assert len(ref["featureStats"]["features"]) == 64
    assert sum(ref["classDistribution"].values()) == pytest.approx(1.0, abs=1e-4)
    assert g["referencePath"] == f"{ml_env.ml}/{folder}reference.json"
    # the contract (contract/*.schema.json) for the default feed
    assert problems(g, METRICS) == [] and problems(ref, REFERENCE) == []
    assert g["metrics"]["accuracy"] == g["accuracy"] and g["primaryMetric"] == "accuracy"
    assert g["championMetrics"] == {"accuracy": g["championAccuracy"]}

    # 3. a clearly worse challenger is not promoted; the champion stays
    worse = ml_env.run("train", batchId="b-lab", trainOptions=WEAK.replace("}", ', "seed": 7}'))
    assert worse.code == 0, worse.stderr
    k = worse.outputs
    assert (k["decision"], k["promoted"], k["championVersion"]) == ("kept-champion", False, g["modelVersion"])
    assert k["championAccuracy"] == pytest.approx(g["accuracy"])
    assert read_pointer(ml_env.store, ml_env.ml).doc["version"] == g["modelVersion"]

    # invalid options fail before any work, with a message naming the option
    bad = ml_env.run("train", batchId="b-lab", trainOptions='{"epochs": -1}')
    assert bad.code != 0 and "trainOptions.epochs" in bad.stderr and bad.outputs is None

    # 4. score-only: one prediction per curated input row, ids preserved, summary
    unl = read_manifest(ml_env.store, ml_env.ml, "b-unl")
    scored = ml_env.run("score", batchId="b-unl", mode="score_only")
    assert scored.code == 0, scored.stderr
    s = scored.outputs
    assert s["rows"] == unl["rows"] and s["modelVersion"] == g["modelVersion"]
    assert sum(s["classCounts"].values()) == s["rows"]
    assert sum(s["confidenceHistogram"]["counts"]) == s["rows"]
    assert 0.5 < s["meanConfidence"] <= 1.0
    text = ml_env.store.read_bytes(*split_path(s["predictionsPath"])).decode()
    preds = list(csv.DictReader(io.StringIO(text)))
    want_ids = np.concatenate([sh.ids for sh in iter_shards(ml_env.store, ml_env.ml, unl)])
    assert [p["id"] for p in preds] == list(want_ids)
    assert all(0 <= int(p["class"]) <= 9 and 0 < float(p["confidence"]) <= 1 for p in preds)
    summary = ml_env.store.read_json(*split_path(s["summaryPath"]))
    assert summary["rows"] == s["rows"]
    assert problems(s, PREDICTIONS) == []

    # train-and-score mode scores the labelled batch; its labels give the accuracy
    ts = ml_env.run("score", batchId="b-lab", mode="train_and_score")
    assert ts.code == 0 and ts.outputs["rows"] == pre["rowsOut"]
    assert ts.outputs["labelledAccuracy"] >= 0.93


def test_champion_pointer_cannot_be_won_twice(ml_env):
    """Two trainers that read the same pointer: the etag condition lets only one write."""
    empty = read_pointer(ml_env.store, ml_env.ml)
    assert write_pointer(ml_env.store, ml_env.ml, "m-a", 0.9, "x/a", empty)
    assert not write_pointer(ml_env.store, ml_env.ml, "m-b", 0.95, "x/b", empty)
    seen = read_pointer(ml_env.store, ml_env.ml)
    assert seen.doc["version"] == "m-a"
    assert write_pointer(ml_env.store, ml_env.ml, "m-c", 0.96, "x/c", seen)
    assert not write_pointer(ml_env.store, ml_env.ml, "m-d", 0.97, "x/d", seen)
    assert not write_pointer(ml_env.store, ml_env.ml, "m-e", 0.97, "x/e", Pointer(None, None))
    assert read_pointer(ml_env.store, ml_env.ml).doc["version"] == "m-c"
