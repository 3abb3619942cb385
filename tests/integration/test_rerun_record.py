"""What a rerun's record says against real Azurite: a rerun runs with its failed run's
parameters in Data Factory, and its record must say what it runs."""
from shared.landing.batch import Batch
from shared.runs.activities import begin_run
from shared.runs.ml_layout import CODE_POINTER
from shared.runs.records import RunRecords
from shared.services import get_services


def test_a_rerun_keeps_the_code_version_its_failed_run_used(app_env):
    """Data Factory runs a rerun with its reference run's parameters, so a package uploaded
    since (a new `latest`) is not what the rerun runs: the record must not say it is."""
    services = get_services()
    assert services.settings.code_version == "latest"  # the default: the newest package
    batch = Batch(batchId="unlabelled-00000000000000000042", kind="unlabelled", mode="score",
                  manifestPath="state/manifests/x.json", files=[], reason="test")
    services.ml.put(CODE_POINTER, {"version": "v-old"})
    begin_run(services, {"batch": batch.to_json(), "instanceId": batch.batchId})
    RunRecords(services.state).update(batch.batchId, {"status": "failed", "adfRunIds": ["r1"]})
    services.ml.put(CODE_POINTER, {"version": "v-new"})  # a new package since the failure
    plan = begin_run(services, {"batch": batch.rerun("r1").to_json(),
                                "instanceId": f"{batch.batchId}-rerun1"})
    record = RunRecords(services.state).get(batch.batchId)
    assert record["codeVersion"] == plan["parameters"]["codeVersion"] == "v-old"
    assert record["instanceId"] == f"{batch.batchId}-rerun1" and record["status"] == "running"
    fresh = begin_run(services, {"batch": batch.model_copy(update={
        "batchId": "unlabelled-00000000000000000043"}).to_json(), "instanceId": "x"})
    assert fresh["parameters"]["codeVersion"] == "v-new"  # a new run takes today's
