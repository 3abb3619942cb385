"""The published contract: the schema files, the validator's findings (naming the file and
the field), and that no output, however malformed, makes the checks raise."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from shared.checks import evaluate_run
from shared.checks.contract import SCHEMA_DIR, SCHEMA_FILES, conforming_history, problems
from shared.checks.profile import DATA, METRICS, PREDICTIONS, REFERENCE, Profile
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
REG = Profile(task="regression", metric="rmse", direction="lower", tolerance=2.0)
EDGES = [-1e308, 100.0, 150.0, 200.0, 1e308]


def record(pre=None, train=None, score=None, batch="b1"):
    outputs = {k: v for k, v in (("Preprocess", pre), ("Train", train), ("Score", score))
               if v is not None}
    return {"batchId": batch, "kind": "labelled", "status": "succeeded", "pipeline": "p",
            "durationSeconds": 10.0, "outputs": outputs}


def contract_findings(out):
    return {f["subject"]: f for f in out if f["kind"] == "contract"}


def test_the_schema_files_are_valid():
    names = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))
    assert names == sorted([*SCHEMA_FILES.values(), "common.schema.json"])
    for name in names:
        doc = json.loads((SCHEMA_DIR / name).read_text())
        Draft202012Validator.check_schema(doc)
        assert doc["$id"].endswith("/" + name) and doc.get("title")


@pytest.mark.parametrize("role, doc, field", [
    (DATA, {"rowsIn": 10, "rowsOut": 9}, "rowsRejected"),
    (DATA, {"rowsIn": 10, "rowsOut": 9, "rowsRejected": -1}, "rowsRejected"),
    (DATA, {"rowsIn": 1, "rowsOut": 1, "rowsRejected": 0,
            "featureStats": {"features": {"age": {"counts": [1, "x"]}}}},
     "featureStats.features.age.counts[1]"),
    (DATA, {"rowsIn": 1, "rowsOut": 1, "rowsRejected": 0,
            "featureStats": {"features": {"age": {"counts": [1, 2], "edges": [0, 1]}}}},
     "featureStats.features.age.counts"),
    (METRICS, {"modelVersion": "m1", "promoted": True, "metrics": {"r2": 0.4}}, "metrics.rmse"),
    (METRICS, {"modelVersion": "m1", "promoted": True, "metrics": {"rmse": "55"}},
     "metrics.rmse"),
    (METRICS, {"modelVersion": "m1", "promoted": "yes", "metrics": {"rmse": 55}}, "promoted"),
    (METRICS, {"modelVersion": "m1", "promoted": True, "metrics": {"rmse": float("nan")}},
     "metrics.rmse"),
    (PREDICTIONS, {"rows": 5}, "predictionHistogram"),
    (PREDICTIONS, {"rows": 5, "predictionHistogram": {"edges": [0, 1], "counts": [2, 3]}},
     "predictionHistogram.counts"),
    (PREDICTIONS, {"rows": 5, "predictionHistogram": {"edges": [0, 2, 1], "counts": [2, 3]}},
     "predictionHistogram.edges"),
    (PREDICTIONS, {"rows": 5, "predictionHistogram": {"counts": [5]}},
     "predictionHistogram.edges"),
    (PREDICTIONS, [1, 2], "(the whole file)"),
    (REFERENCE, {"predictionHistogram": {"edges": [0, 1], "counts": [-2]}},
     "predictionHistogram.counts[0]"),
])
def test_each_malformation_is_named_by_its_field(role, doc, field):
    found = problems(doc, role, REG)
    assert field in [f for f, _ in found], found


def test_the_digits_shapes_meet_the_contract_for_the_default_feed():
    assert problems({"rows": 3, "classCounts": {"0": 3}}, PREDICTIONS) == []
    assert problems({"rows": 3, "classDistribution": {"0": 1.0}}, PREDICTIONS) == []
    assert problems({"rows": 3}, PREDICTIONS) == [
        ("classCounts", "is missing, and so is classDistribution (a classification feed)")]
    # a record written before the contract: accuracy at the top level, no `metrics`
    assert problems({"modelVersion": "m", "promoted": False, "accuracy": 0.9,
                     "championAccuracy": 0.91, "championVersion": "c"}, METRICS) == []


def test_a_malformed_summary_is_a_contract_finding_and_the_run_is_still_judged():
    score = {"rows": 300, "predictionHistogram": {"edges": EDGES, "counts": [1, 2, -3, 4]}}
    run = record(pre={"rowsIn": 300, "rowsOut": 300, "rowsRejected": 0},
                 train={"modelVersion": "m1", "promoted": True, "metrics": {"rmse": 50.0}},
                 score=score)
    out = evaluate_run(run, [], None, S, REG)
    found = contract_findings(out)
    bad = found["contract:predictions"]
    assert (bad["status"], bad["firing"], bad["severity"]) == ("alert", True, "Sev2")
    assert "Score/outputs.json" in bad["summary"]
    assert "predictionHistogram.counts[2]" in bad["summary"]
    assert bad["context"]["problems"][0]["field"] == "predictionHistogram.counts[2]"
    assert bad["context"]["schema"] == "predictions.schema.json"
    assert found["contract:data"]["status"] == found["contract:metrics"]["status"] == "ok"
    # the malformed summary is not read: no prediction drift finding, the rest still judged
    kinds = {f["kind"] for f in out}
    assert "prediction_drift" not in kinds
    assert {"run_failed", "metric_regression", "rejected_rows", "run_stuck"} <= kinds


def test_a_malformed_reference_is_named_and_not_used():
    ref = {"predictionHistogram": {"edges": EDGES, "counts": [1, 2, 3]}}  # 4 bins by edges
    score = {"rows": 400, "predictionHistogram": {"edges": EDGES, "counts": [100] * 4}}
    out = evaluate_run(record(score=score), [], ref, S, REG)
    assert contract_findings(out)["contract:reference"]["context"]["file"] == "reference.json"
    drift = next(f for f in out if f["kind"] == "prediction_drift")
    assert drift["status"] == "insufficient-history"  # no usable reference, no history


def test_malformed_outputs_in_history_are_left_out_silently():
    good = record(train={"modelVersion": "m0", "promoted": True, "metrics": {"rmse": 50.0}})
    bad = record(train={"modelVersion": "m0", "promoted": True, "metrics": {}}, batch="b0")
    assert conforming_history(good, REG) == good
    assert conforming_history(bad, REG)["outputs"] == {}
    assert conforming_history({"batchId": "x", "outputs": "junk"}, REG)["outputs"] == {}


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True)
                    | st.text(max_size=3),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(
                        ["rows", "rowsIn", "rowsOut", "rowsRejected", "counts", "edges",
                         "metrics", "rmse", "accuracy", "modelVersion", "promoted",
                         "featureStats", "features", "age", "predictionHistogram",
                         "classCounts", "classDistribution", "0", "championMetrics",
                         "championVersion"]), inner, max_size=5),
                    max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pre=JSON, train=JSON, score=JSON, ref=JSON, hist=JSON,
       profile=st.sampled_from([REG, Profile()]))
def test_no_output_however_malformed_makes_the_checks_raise(pre, train, score, ref, hist,
                                                            profile):
    run = record(pre, train, score)
    history = [record(hist, hist, hist, batch=f"h{i}") for i in range(6)]
    out = evaluate_run(run, history, ref if isinstance(ref, dict) else None, S, profile)
    assert any(f["kind"] == "run_stuck" for f in out)


# --- every field of the findings, and the edges of the rules ------------------------------

def test_a_contract_finding_field_by_field():
    from shared.checks.contract import conforming

    run = record(score={"rows": -1}, batch="b7")
    _, _, (bad,) = conforming(run, None, REG)
    assert bad == {
        "kind": "contract", "subject": "contract:predictions", "severity": "Sev2",
        "firing": True, "status": "alert",
        "summary": "Score/outputs.json breaks the contract (predictions.schema.json): "
                   "rows -1 is less than the minimum of 0 (and 1 more)",
        "context": {"batchId": "b7", "role": "predictions", "file": "Score/outputs.json",
                    "schema": "predictions.schema.json", "problemCount": 2, "problems": [
                        {"field": "rows", "problem": "-1 is less than the minimum of 0"},
                        {"field": "predictionHistogram",
                         "problem": "is missing (a regression feed)"}]}}
    ok_run = record(score={"rows": 4, "predictionHistogram": {"edges": [0, 1], "counts": [4]}},
                    batch="b8")
    clean, reference, (ok,) = conforming(ok_run, None, REG)
    assert clean == ok_run and reference is None
    assert ok == {"kind": "contract", "subject": "contract:predictions", "severity": "Sev4",
                  "firing": False, "status": "ok",
                  "summary": "Score/outputs.json meets the contract (predictions.schema.json)",
                  "context": {"batchId": "b8", "role": "predictions",
                              "file": "Score/outputs.json", "schema": "predictions.schema.json",
                              "problemCount": 0, "problems": []}}
    one = conforming(record(score={"rows": 1}), None, REG)[2][0]["summary"]
    assert one.endswith("predictionHistogram is missing (a regression feed)")  # no "(and 0 more)"


def test_a_malformed_reference_finding_and_what_conforming_returns():
    from shared.checks.contract import conforming

    ref = {"predictionHistogram": {"edges": [0, 1, 1], "counts": [1, 1]}}
    run, reference, (f,) = conforming(record(batch="b9"), ref, REG, "models/m1/reference.json")
    assert reference is None and run["outputs"] == {}
    assert (f["subject"], f["context"]["batchId"], f["context"]["file"]) == (
        "contract:reference", "b9", "models/m1/reference.json")
    assert f["context"]["problems"] == [{"field": "predictionHistogram.edges",
                                         "problem": "must increase strictly"}]


def test_every_problem_is_listed_not_only_the_first():
    doc = {"rowsIn": -1, "rowsOut": 1, "featureStats": {"features": {
        "a": {"counts": [1], "edges": [0, 1, 2]}, "b": {"counts": [1, 1], "edges": [2, 1, 3]}}}}
    assert [f for f, _ in problems(doc, DATA)] == [
        "rowsIn", "rowsRejected", "featureStats.features.a.counts", "featureStats.features.b.edges"]


def test_outputs_that_are_not_an_object_are_judged_without_raising():
    run = {"batchId": "b", "status": "succeeded", "outputs": "junk"}
    out = evaluate_run(run, [run], None, S, REG)
    assert [f["kind"] for f in out if f["kind"] == "contract"] == []
    assert any(f["kind"] == "run_failed" for f in out)
