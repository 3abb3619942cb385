"""The typed batch: what a rerun and an alert action keep of the batch they come from,
field by field, and how a request's options apply."""
import pytest
from pydantic import ValidationError

from shared.landing.batch import Batch, RunOverrides

BASE = Batch(batchId="labelled-abc", kind="labelled", mode="train-and-score",
             manifestPath="state/manifests/labelled-abc.json",
             files=[{"name": "labelled/2026/11/24/a.csv", "size": 10, "etag": "e1",
                     "lastModified": "2026-11-24T10:00:00+00:00"}],
             reason="hourly sweep", trainOptions={"epochs": 3}, timeoutSeconds=60, maxReruns=2)


def test_a_rerun_keeps_the_batch_and_its_options_and_names_the_failed_adf_run():
    again = BASE.rerun("adf-run-1")
    assert again.rerunOf == "adf-run-1"
    for field in ("batchId", "kind", "mode", "manifestPath", "files", "reason",
                  "trainOptions", "timeoutSeconds", "maxReruns"):
        assert getattr(again, field) == getattr(BASE, field), field


@pytest.mark.parametrize("action,kind,mode", [("retrain", "labelled", "train-and-score"),
                                              ("score", "unlabelled", "score")])
def test_an_action_batch_is_new_work_over_the_same_files_with_default_options(action, kind, mode):
    derived = BASE.for_action(action, "alert-0123456789abcdef")
    assert derived.batchId == f"labelled-abc-{action}-456789abcdef"
    assert (derived.kind, derived.mode) == (kind, mode)
    assert (derived.manifestPath, derived.files) == (BASE.manifestPath, BASE.files)
    assert derived.reason == f"alert alert-0123456789abcdef: {action}"
    assert (derived.trainOptions, derived.timeoutSeconds, derived.maxReruns,
            derived.rerunOf) == (None, None, None, None)


def test_a_request_sets_mode_and_only_the_options_it_gives():
    asked = BASE.with_request("score", RunOverrides(maxReruns=0))
    assert (asked.mode, asked.maxReruns, asked.trainOptions, asked.timeoutSeconds) == (
        "score", 0, {"epochs": 3}, 60)
    assert BASE.with_request(None, None) is BASE


def test_the_payload_round_trips_through_json_and_refuses_what_is_wrong():
    assert Batch.model_validate(BASE.to_json()) == BASE
    assert "rerunOf" not in BASE.to_json()  # absent, not null, in inputs and records
    with pytest.raises(ValidationError, match="kind"):
        Batch.model_validate({**BASE.to_json(), "kind": "misc"})
    with pytest.raises(ValidationError, match="maxReruns"):
        Batch.model_validate({**BASE.to_json(), "maxReruns": 11})
