"""The diabetes workload's pure parts: the row rules, the fixed bins, the options, the
generator, and that its outputs' shapes meet the contract of a regression feed."""
from __future__ import annotations

import numpy as np
import pytest

from shared.checks.contract import problems
from shared.checks.profile import DATA, REFERENCE, Profile
from training.activity import UsageError
from training.diabetes import data, model
from training.diabetes.generate import make_batch
from training.diabetes.train import BOUNDS, Options, reference
from training.options import parse_options

FEED = Profile(task="regression", metric="rmse", direction="lower")
LAYOUT = data.layout_for(["id", *data.FEATURES, "target"], "labelled")
GOOD = ["p1", "59", "2", "32.1", "101", "157", "93.2", "38", "4", "4.86", "87", "151"]


@pytest.mark.parametrize("change, reason", [
    ({0: ""}, "missing_id"),
    ({1: "old"}, "non_numeric"),
    ({1: "130"}, "out_of_range"),
    ({2: "3"}, "out_of_range"),
    ({3: "NA"}, "missing_value"),
    ({3: "nan"}, "missing_value"),
    ({11: "-1"}, "bad_target"),
    ({11: ""}, "bad_target"),
])
def test_a_bad_value_rejects_the_row_with_its_reason(change, reason):
    fields = [change.get(i, v) for i, v in enumerate(GOOD)]
    assert data.check_row(fields, LAYOUT).reason == reason


def test_a_good_row_and_the_header_rules():
    row = data.check_row(GOOD, LAYOUT)
    assert (row.id, row.values[2], row.label) == ("p1", 32.1, 151.0)
    assert data.check_row(GOOD[:-1], LAYOUT).reason == "wrong_field_count"
    assert data.layout_for(["id", "age"], "unlabelled").reason == "missing_columns"
    unl = data.layout_for(["extra", "id", *data.FEATURES], "unlabelled")
    assert unl.ignored == ("extra",) and unl.label_at is None


def test_every_feature_has_fixed_open_ended_bins_that_hold_every_value():
    X, _ = data.load()
    for j, f in enumerate(data.FEATURES):
        edges = data.feature_edges()[f]
        assert edges[0] == -data.OPEN and edges[-1] == data.OPEN
        assert all(b > a for a, b in zip(edges, edges[1:], strict=False))
        counts = data.histogram(X[:, j], edges)
        assert sum(counts) == len(X) and len(counts) == len(edges) - 1
    assert data.histogram([1.0, 1.5, 2.0, 9.0], [-data.OPEN, 1.5, 2.0, data.OPEN]) == [1, 1, 2]


def test_options_are_validated_by_name():
    assert parse_options('{"alpha": 10}', Options, BOUNDS) == Options(alpha=10.0)
    with pytest.raises(UsageError, match="trainOptions.alpha"):
        parse_options('{"alpha": -1}', Options, BOUNDS)
    with pytest.raises(UsageError, match="unknown option"):
        parse_options('{"epochs": 3}', Options, BOUNDS)


def test_the_model_beats_the_mean_on_rows_it_never_saw():
    X, y = data.labelled_pool()
    Xh, yh = data.reserved_holdout()
    fitted = model.fit(X, y, 1.0)
    m = model.metrics(yh, model.predict(fitted, Xh))
    baseline = model.metrics(yh, np.full(len(yh), y.mean()))
    assert m["rmse"] < baseline["rmse"] - 10 and m["r2"] > 0.3
    weak = model.metrics(yh, model.predict(model.fit(X, y, 1e6), Xh))
    assert weak["rmse"] > m["rmse"] + 10


def test_generated_batches_are_deterministic_and_drift_as_documented():
    assert make_batch("labelled", 50, "clean", 4).csv == make_batch("labelled", 50, "clean", 4).csv
    clean = make_batch("unlabelled", 300, "clean", 5).csv.decode().splitlines()
    drifted = make_batch("unlabelled", 300, "drifted", 5).csv.decode().splitlines()
    age = data.FEATURES.index("age") + 1
    mean = [np.mean([float(r.split(",")[age]) for r in rows[1:]]) for rows in (clean, drifted)]
    assert mean[1] - mean[0] == pytest.approx(12, abs=0.6)


def test_the_outputs_shapes_meet_the_contract_of_a_regression_feed():
    X, y = data.labelled_pool()
    pred = model.predict(model.fit(X, y, 1.0), X)
    ref = reference(X, pred, np.arange(50))
    assert problems(ref, REFERENCE, FEED) == []
    assert sum(ref["predictionHistogram"]["counts"]) == len(X) - 50  # the edges' rows not counted
    assert ref["predictionHistogram"]["edges"] == data.quantile_edges(pred[:50])
    assert problems({"rowsIn": 3, "rowsOut": 3, "rowsRejected": 0,
                     "featureStats": data.feature_stats(X[:3])}, DATA, FEED) == []
