"""Scoring on an Azure ML batch endpoint: the settings that turn it on (validated with the
setting named), which runs use it, what its pipeline is given, where a rerun starts, what
the record keeps of the job, and the predictions summary built from its output file."""
from __future__ import annotations

import pytest

from shared.errors import BadRequest
from shared.landing.batch import Batch, RunOverrides
from shared.orchestration.starters import check_overrides
from shared.runs import endpoint
from shared.runs.activities import pipeline_for
from shared.settings import SettingsError, load_settings

BASE = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
AML = {"AML_ENDPOINT_URI": "https://glue.westeurope.inference.ml.azure.com/jobs",
       "AML_DATASTORE_URI": "azureml://datastores/mldata/paths"}


def _batch(mode="score", target=None) -> Batch:
    return Batch(batchId="unlabelled-" + "a" * 20, kind="unlabelled", mode=mode,
                 manifestPath="glue-state/manifests/x.json", scoreTarget=target)


def test_defaults_score_on_batch_and_need_nothing_of_the_endpoint():
    s = load_settings(BASE)
    assert (s.score_target, s.adf_endpoint_score_pipeline) == ("batch", "score_batch_endpoint")
    assert (s.aml_api_version, s.aml_poll_interval_seconds) == ("2020-09-01-dataplanepreview", 120)


@pytest.mark.parametrize("env, named", [
    ({"SCORE_TARGET": "aml-endpoint"}, "AML_ENDPOINT_URI is not set"),
    ({"SCORE_TARGET": "aml-endpoint", "AML_ENDPOINT_URI": AML["AML_ENDPOINT_URI"]},
     "AML_DATASTORE_URI must be"),
    ({**AML, "AML_ENDPOINT_URI": "http://glue.westeurope.inference.ml.azure.com/jobs"},
     "AML_ENDPOINT_URI must be an https URL"),
    ({**AML, "AML_ENDPOINT_URI": "https://glue/jobs?api-version=1"}, "no query"),
    ({**AML, "AML_DATASTORE_URI": "https://acct.blob.core.windows.net/ml-data"},
     "AML_DATASTORE_URI must be"),
    ({"SCORE_TARGET": "endpoint"}, "SCORE_TARGET"),
    ({**AML, "AML_POLL_INTERVAL_SECONDS": "0"}, "AML_POLL_INTERVAL_SECONDS"),
])
def test_endpoint_settings_are_validated_naming_the_setting(env, named):
    with pytest.raises(SettingsError, match=named):
        load_settings({**BASE, **env})


def test_a_complete_endpoint_configuration_loads_and_a_loopback_stand_in_may_use_http():
    assert load_settings({**BASE, **AML, "SCORE_TARGET": "aml-endpoint"}).score_target == \
        "aml-endpoint"
    local = {**AML, "AML_ENDPOINT_URI": "http://127.0.0.1:20001/jobs"}
    assert load_settings({**BASE, **local}).aml_endpoint_uri.startswith("http://127.0.0.1")


@pytest.mark.parametrize("setting, override, mode, target, pipeline", [
    ("batch", None, "score", "batch", "score_only"),
    ("aml-endpoint", None, "score", "aml-endpoint", "score_batch_endpoint"),
    ("batch", "aml-endpoint", "score", "aml-endpoint", "score_batch_endpoint"),
    ("aml-endpoint", "batch", "score", "batch", "score_only"),
    ("aml-endpoint", "aml-endpoint", "train-and-score", "batch", "train_and_score"),
])
def test_target_and_pipeline_per_run(setting, override, mode, target, pipeline):
    s = load_settings({**BASE, **AML, "SCORE_TARGET": setting})
    chosen = endpoint.score_target(_batch(mode, override), s)
    assert chosen == target and pipeline_for(mode, s, chosen) == pipeline


def test_the_override_travels_with_reruns_but_not_alert_actions():
    batch = _batch(target="aml-endpoint")
    assert batch.rerun("adf-1").scoreTarget == "aml-endpoint"
    assert batch.for_action("score", "alert-123456789012").scoreTarget is None
    assert _batch().with_request(None, RunOverrides(scoreTarget="aml-endpoint")).scoreTarget \
        == "aml-endpoint"


def test_an_endpoint_override_without_endpoint_settings_is_refused_naming_it():
    with pytest.raises(BadRequest, match="scoreTarget: aml-endpoint is not configured: "
                                         "AML_ENDPOINT_URI is not set"):
        check_overrides(RunOverrides(scoreTarget="aml-endpoint"), load_settings(BASE))
    check_overrides(RunOverrides(scoreTarget="batch"), load_settings(BASE))
    check_overrides(RunOverrides(scoreTarget="aml-endpoint"), load_settings({**BASE, **AML}))


def test_a_rerun_of_an_endpoint_run_is_refused_once_the_endpoint_settings_are_gone():
    """Checked before anything starts: a rerun that could not begin would leave a failed
    rerun instance behind, and every later rerun of the batch would find it taken."""
    import asyncio
    from types import SimpleNamespace

    from shared.orchestration.starters import start_rerun

    record = {**_batch(target="aml-endpoint").model_dump(), "status": "failed",
              "adfRunIds": ["adf-1"], "instanceId": "unlabelled-" + "a" * 20}

    class State:
        def read_json(self, name):
            return record, "etag"

    class Client:
        async def get_status(self, instance_id):
            raise AssertionError("nothing is started")

    services = SimpleNamespace(state=State(), settings=load_settings(BASE))
    with pytest.raises(BadRequest, match="scoreTarget: aml-endpoint is not configured"):
        asyncio.run(start_rerun(Client(), services, record["batchId"]))


def test_pipeline_parameters_name_the_curated_input_and_the_batchs_output_folder():
    s = load_settings({**BASE, **AML, "AML_POLL_INTERVAL_SECONDS": "30"})
    assert endpoint.pipeline_parameters("unlabelled-x", s) == {
        "endpoint_uri": "https://glue.westeurope.inference.ml.azure.com/jobs",
        "api_version": "2020-09-01-dataplanepreview", "poll_interval": 30,
        "endpoint_input_uri": "azureml://datastores/mldata/paths/curated/unlabelled-x/",
        "endpoint_output_folder": "azureml://datastores/mldata/paths/predictions/unlabelled-x/"
                                  "endpoint/"}


@pytest.mark.parametrize("batch_id, adf_run_id, path", [
    ("unlabelled-x", "run-1", "predictions/unlabelled-x/endpoint/run-1/predictions.csv"),
    ("unlabelled-x", "run-2", "predictions/unlabelled-x/endpoint/run-2/predictions.csv"),
    ("unlabelled-y", "run-1", "predictions/unlabelled-y/endpoint/run-1/predictions.csv"),
])
def test_the_output_path_is_one_per_batch_and_adf_run_under_the_batchs_folder(
        batch_id, adf_run_id, path):
    assert endpoint.output_path(batch_id, adf_run_id) == path
    assert path.startswith(endpoint.output_folder(batch_id))


INVOKED = {"Preprocess": {"rowsOut": 3}, "InvokeEndpoint": {"name": "batchjob-1"}}


@pytest.mark.parametrize("pipeline, outputs, start", [
    ("score_batch_endpoint", INVOKED, "InvokeEndpoint"),  # the job failed, or was cancelled
    ("score_batch_endpoint", {**INVOKED, "CheckJob": {"name": "batchjob-1"}}, "InvokeEndpoint"),
    ("score_batch_endpoint", {"Preprocess": {"rowsOut": 3}}, None),  # the invoke failed
    ("score_batch_endpoint", {}, None),  # Preprocess failed
    ("score_only", {"Preprocess": {"rowsOut": 3}}, None),
    ("train_and_score", {"Preprocess": {"rowsOut": 3}}, None),
])
def test_a_rerun_of_an_endpoint_run_whose_job_was_invoked_invokes_the_endpoint_again(
        pipeline, outputs, start):
    assert endpoint.rerun_start(pipeline, outputs, load_settings(BASE)) == start


def test_the_record_shows_the_endpoint_job():
    invoked = {"name": "batchjob-1", "properties": {"status": "NotStarted"}}
    checked = {"name": "batchjob-1", "properties": {"status": "Failed",
                                                    "error": {"message": "output exists"}}}
    assert endpoint.endpoint_job({"InvokeEndpoint": invoked, "CheckJob": checked}) == \
        {"jobId": "batchjob-1", "status": "Failed", "error": "output exists"}
    assert endpoint.endpoint_job({"InvokeEndpoint": invoked}) == \
        {"jobId": "batchjob-1", "status": "NotStarted", "error": None}
    assert endpoint.endpoint_job({"Score": {"rows": 3}}) is None


def test_the_predictions_summary_is_the_batch_scorers():
    lines = ["id,class,confidence", "a,3,0.950000", "b,3,0.400000", "c,7,1.000000", "",
             "d,0,0.050000"]
    summary = endpoint.summarize_predictions(lines)
    assert summary["rows"] == 4
    assert summary["classCounts"] == {**{str(c): 0 for c in range(10)}, "3": 2, "7": 1, "0": 1}
    assert summary["classDistribution"]["3"] == 0.5
    assert summary["confidenceHistogram"]["counts"] == [1, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    assert summary["meanConfidence"] == pytest.approx(0.6)
    assert endpoint.summarize_predictions([])["meanConfidence"] is None


def test_the_summary_matches_training_score_summary_bin_for_bin():
    np = pytest.importorskip("numpy")
    from training.score import Summary

    classes = np.array([0, 1, 1, 9, 4])
    confidence = np.array([0.0, 0.1, 0.55, 0.999999, 1.0])
    batch = Summary()
    batch.update(classes, confidence)
    lines = [f"r{i},{c},{p:.6f}" for i, (c, p) in enumerate(zip(classes, confidence,
                                                                 strict=True))]
    glue = endpoint.summarize_predictions(lines)
    expected = batch.to_dict()
    assert glue["classCounts"] == expected["classCounts"]
    assert glue["confidenceHistogram"] == expected["confidenceHistogram"]
    assert glue["meanConfidence"] == pytest.approx(expected["meanConfidence"])


def test_lines_the_deployment_should_not_write_are_counted_not_fatal():
    lines = ["id,class,confidence", "1,3,0.9", "2,x,0.5", "3,12,0.5", "4,2,1.7", "5,1", "",
             "6,2,0.4"]
    summary = endpoint.summarize_predictions(lines)
    assert summary["rows"] == 2 and summary["malformedLines"] == 4
    assert summary["classCounts"]["3"] == 1 and summary["classCounts"]["2"] == 1
    assert "malformedLines" not in endpoint.summarize_predictions(["1,3,0.9"])
