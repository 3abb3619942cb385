"""trainOptions validation, the champion rule, the split and the statistics: pure parts of
train and preprocess."""
from __future__ import annotations

import numpy as np
import pytest

from training.activity import UsageError
from training.champion import should_promote
from training.options import TrainOptions, parse_options
from training.stats import FeatureStats
from training.train import model_version, stratified_split


def test_defaults_and_overrides():
    assert parse_options("{}") == TrainOptions()
    assert parse_options(None) == TrainOptions()
    o = parse_options('{"epochs": 3, "hiddenUnits": 8, "learningRate": 0.1, "promotionTolerance": 0}')
    assert (o.epochs, o.hiddenUnits, o.learningRate, o.promotionTolerance) == (3, 8, 0.1, 0.0)
    assert parse_options({"epochs": 2.0}).epochs == 2


@pytest.mark.parametrize("raw,named", [
    ('{"epochs": -1}', "trainOptions.epochs"),
    ('{"epochs": 1.5}', "trainOptions.epochs"),
    ('{"epochs": "3"}', "trainOptions.epochs"),
    ('{"hiddenUnits": true}', "trainOptions.hiddenUnits"),
    ('{"holdoutFraction": 0.9}', "trainOptions.holdoutFraction"),
    ('{"learningRate": 0}', "trainOptions.learningRate"),
    ('{"epoch": 3}', "unknown option"),
    ("[1]", "JSON object"),
    ("{oops", "not valid JSON"),
])
def test_invalid_options_name_what_is_wrong(raw, named):
    with pytest.raises(UsageError, match=named.replace(".", r"\.")):
        parse_options(raw)


def test_promotion_rule_uses_the_tolerance():
    assert should_promote(0.95, 0.95, 0.01)
    assert should_promote(0.94, 0.95, 0.01)  # worse, but within tolerance
    assert not should_promote(0.93, 0.95, 0.01)
    assert not should_promote(0.949, 0.95, 0.0)
    assert should_promote(0.99, 0.5, 0.0)


def test_split_is_stratified_disjoint_and_deterministic():
    y = np.repeat(np.arange(10), 50)
    tr, ho = stratified_split(y, 0.2, seed=1)
    assert len(set(tr) & set(ho)) == 0 and len(tr) + len(ho) == len(y)
    assert np.bincount(y[ho]).tolist() == [10] * 10
    tr2, ho2 = stratified_split(y, 0.2, seed=1)
    assert (ho == ho2).all()
    assert not (stratified_split(y, 0.2, seed=2)[1] == ho).all()


def test_model_version_follows_data_code_and_options():
    v = model_version("d" * 64, "abc", TrainOptions())
    assert v == model_version("d" * 64, "abc", TrainOptions()) and v.startswith("m-")
    assert v != model_version("e" * 64, "abc", TrainOptions())
    assert v != model_version("d" * 64, "abd", TrainOptions())
    assert v != model_version("d" * 64, "abc", TrainOptions(epochs=3))


def test_feature_stats_accumulate_in_chunks():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 17, size=(1000, 64)).astype(np.uint8)
    whole, parts = FeatureStats(), FeatureStats()
    whole.update(X)
    parts.update(X[:300])
    parts.update(X[300:])
    assert whole.to_dict() == parts.to_dict()
    f0 = whole.to_dict()["features"]["p0"]
    assert sum(f0["counts"]) == 1000 and f0["counts"][5] == int((X[:, 0] == 5).sum())
    assert f0["mean"] == pytest.approx(X[:, 0].mean(), abs=1e-5)
    assert f0["std"] == pytest.approx(X[:, 0].std(), abs=1e-5)
