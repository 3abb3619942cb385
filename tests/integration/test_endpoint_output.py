"""The predictions summary of an endpoint run, read from its output file in Azurite: lines
streamed across download chunks, the same counts as the lines, nothing for other runs; and
`finish_run` reads the output of the run's last ADF run, not an earlier try's."""
from __future__ import annotations

import uuid

from shared.runs import endpoint
from shared.storage import BlobState


def _ml(azurite) -> BlobState:
    from azure.storage.blob import BlobServiceClient

    # tiny download chunks, so a line is split across chunks many times
    service = BlobServiceClient.from_connection_string(
        azurite.connection_string, max_single_get_size=512, max_chunk_get_size=512)
    container = service.get_container_client(f"ml-{uuid.uuid4().hex[:8]}")
    container.create_container()
    return BlobState(container)


def test_the_summary_is_built_from_the_streamed_output_file(azurite):
    ml = _ml(azurite)
    rows = [f"row-{i:05d},{i % 10},{(i % 100) / 100:.6f}" for i in range(1000)]
    path = endpoint.output_path("unlabelled-x", "adf-run-2")
    ml.put(path, ("\n".join(rows) + "\n").encode())
    assert list(ml.read_lines(path)) == rows
    record = {"scoreTarget": "aml-endpoint", "status": "succeeded", "endpointOutputPath": path}
    score = endpoint.score_output(ml, record)
    assert score == {**endpoint.summarize_predictions(rows), "predictionsPath": path,
                     "source": "endpoint output"}
    assert score["rows"] == 1000 and score["classCounts"]["7"] == 100
    assert endpoint.score_output(ml, {**record, "status": "failed"}) is None
    assert endpoint.score_output(ml, {**record, "scoreTarget": "batch"}) is None
    assert endpoint.score_output(ml, {**record, "endpointOutputPath": path + ".missing"}) is None
    assert ml.read_lines("nothing-here.csv") is None


def test_finish_run_reads_the_output_of_the_last_adf_run(app_env):
    """A rerun from failure runs with the failed run's parameters: its job's output differs
    from the first job's (which may have gone on and written it) only by the ADF run id."""
    from shared.runs.activities import finish_run
    from shared.runs.records import RunRecords
    from shared.services import get_services
    from tests import run_samples

    services = get_services()
    result = {**run_samples.record(9, mode="score"), "pipeline": "score_batch_endpoint",
              "adfRunIds": ["adf-first", "adf-rerun"], "reruns": 1}
    result["outputs"].pop("Score")  # the endpoint pipeline has no Score activity
    batch_id = result["batchId"]
    first, last = (endpoint.output_path(batch_id, i) for i in result["adfRunIds"])
    services.ml.put(first, b"p-0,3,0.5\n")  # the first job's, written after its run failed
    rows = [f"p-{i},{i % 10},0.9" for i in range(40)]
    services.ml.put(last, ("\n".join(rows) + "\n").encode())
    RunRecords(services.state).update(batch_id, {
        "status": "running", "scoreTarget": "aml-endpoint", "endpointOutputPath": None})

    finish_run(services, result)
    record = RunRecords(services.state).get(batch_id)
    assert record["endpointOutputPath"] == last
    assert record["outputs"]["Score"]["rows"] == 40
    assert record["outputs"]["Score"]["predictionsPath"] == last
