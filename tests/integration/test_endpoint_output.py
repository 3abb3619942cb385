"""The predictions summary of an endpoint run, read from its output file in Azurite: lines
streamed across download chunks, the same counts as the lines, nothing for other runs."""
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
    path = endpoint.output_path("unlabelled-x", "unlabelled-x-rerun1")
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
