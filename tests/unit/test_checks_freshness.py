"""Freshness checks: stale data, model, predictions and stuck runs."""
from datetime import UTC, datetime, timedelta

import pytest

from shared.checks import evaluate_freshness
from shared.settings import load_settings

S = load_settings({"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"})
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def ago(**kw):
    return (NOW - timedelta(**kw)).isoformat().replace("+00:00", "Z")


def one(findings, kind, subject=None):
    got = [f for f in findings if f["kind"] == kind and (subject is None or f["subject"] == subject)]
    assert len(got) == 1, findings
    return got[0]


def test_stale_and_fresh_against_default_limits():
    facts = {"newestDataAt": ago(hours=27), "championPromotedAt": ago(days=29),
             "newestPredictionsAt": ago(hours=1), "runsInProgress": []}
    out = evaluate_freshness(facts, NOW, S)
    data = one(out, "data_stale", "dataset")
    assert (data["status"], data["firing"], data["severity"]) == ("alert", True, "Sev2")
    assert data["context"]["ageSeconds"] == 27 * 3600
    assert one(out, "model_stale", "model")["status"] == "ok"
    assert one(out, "predictions_stale", "predictions")["status"] == "ok"
    assert len(out) == 3


def test_model_stale_after_its_limit():
    f = one(evaluate_freshness({"championPromotedAt": ago(days=31)}, NOW, S), "model_stale")
    assert f["status"] == "alert"


def test_per_kind_data_times_give_one_finding_per_kind():
    out = evaluate_freshness({"newestDataAt": {"labelled": ago(hours=30),
                                               "unlabelled": ago(hours=2)}}, NOW, S)
    assert one(out, "data_stale", "dataset:labelled")["status"] == "alert"
    assert one(out, "data_stale", "dataset:unlabelled")["status"] == "ok"


def test_nothing_seen_yet_is_not_stale():
    out = evaluate_freshness({"newestDataAt": None, "championPromotedAt": None}, NOW, S)
    assert {(f["kind"], f["status"], f["firing"]) for f in out} == {
        ("data_stale", "insufficient-history", False),
        ("model_stale", "insufficient-history", False)}


def test_stuck_runs():
    facts = {"runsInProgress": [
        {"batchId": "b1", "startedAt": ago(hours=8), "pipeline": "train_and_score"},
        {"batchId": "b2", "startedAt": ago(minutes=10)}]}
    out = evaluate_freshness(facts, NOW, S)
    stuck = one(out, "run_stuck", "run:b1")
    assert (stuck["status"], stuck["severity"]) == ("alert", "Sev1")
    assert stuck["context"]["runningSeconds"] == 8 * 3600
    assert one(out, "run_stuck", "run:b2")["status"] == "ok"


def test_naive_now_and_bad_times_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        evaluate_freshness({}, datetime(2026, 1, 1), S)
    with pytest.raises(ValueError, match="ISO-8601"):
        evaluate_freshness({"newestDataAt": "yesterday"}, NOW, S)
