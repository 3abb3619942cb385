"""Score-mode runs on an Azure Machine Learning batch endpoint (pipeline
`score_batch_endpoint`): which runs go there, what the pipeline is given, what the record
keeps of the endpoint's job, and the predictions summary the checks read.

Where things are, under the datastore on ML_CONTAINER (AML_DATASTORE_URI):

    curated/<batchId>/                                      the job's input (Preprocess)
    predictions/<batchId>/endpoint/<adfRunId>/predictions.csv    the job's output file

The output path is unique per batch and per ADF run, because the endpoint refuses an output
file that exists. The glue gives the pipeline the folder (`endpoint_output_folder`) and the
pipeline adds its own `pipeline().RunId`: a rerun from failure (automatic, or a manual
rerun) runs with the failed run's parameters in Data Factory, so only the run id can tell
its output from the failed run's, whose job may have gone on to write it. The record's
`endpointOutputPath` is the last ADF run's, set when the run ends.
The deployment's scoring script writes only `id,class,confidence` lines (no summary), so
the glue reads the output once when the run ends (streamed, flat memory) and builds the same summary the Batch
scorer writes (`predictions/<batchId>/summary.json` there): row count, class counts and
distribution, confidence histogram, mean confidence. It becomes the run's `Score` output,
so prediction drift, freshness and the dashboard treat it like any other scoring run.
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

BATCH, ENDPOINT = "batch", "aml-endpoint"
INVOKE, WAIT, CHECK = "InvokeEndpoint", "WaitForJob", "CheckJob"
N_CLASSES = 10
CONFIDENCE_BINS = [round(i / 10, 1) for i in range(11)]


def score_target(batch, settings) -> str:
    """The run's scoring target: its override, else SCORE_TARGET; only score-mode runs
    use an endpoint (train-and-score scores the batch it trained on, on Batch)."""
    if batch.mode != "score":
        return BATCH
    return batch.scoreTarget or settings.score_target


def output_folder(batch_id: str) -> str:
    """The folder in ML_CONTAINER of the batch's endpoint outputs, one per ADF run."""
    return f"predictions/{batch_id}/endpoint/"


def output_path(batch_id: str, adf_run_id: str) -> str:
    """The output file of the job that ADF run `adf_run_id` invoked: the pipeline's
    `endpoint_output_folder` + `pipeline().RunId` + `/predictions.csv`."""
    return f"{output_folder(batch_id)}{adf_run_id}/predictions.csv"


def pipeline_parameters(batch_id: str, settings) -> dict:
    """The endpoint pipeline's own parameters, besides the ones every pipeline gets."""
    store = settings.aml_datastore_uri.rstrip("/")
    return {
        "endpoint_uri": settings.aml_endpoint_uri.rstrip("/"),
        "api_version": settings.aml_api_version,
        "poll_interval": settings.aml_poll_interval_seconds,
        "endpoint_input_uri": f"{store}/curated/{batch_id}/",
        "endpoint_output_folder": f"{store}/{output_folder(batch_id)}",
    }


def rerun_start(pipeline: str, outputs: dict, settings) -> str | None:
    """Where a rerun of a failed (or cancelled) run starts, from that run's outputs (its
    group's earlier runs' included): None = at what failed. Every ADF run of the endpoint
    pipeline that succeeds must have invoked its own job, since the glue reads the output of
    the last ADF run's id. So once a job was invoked, a rerun starts at `InvokeEndpoint` (a
    failed job is only tried again by a new one, and following a job an earlier run invoked,
    as after a cancel, would leave its output under that run's id); before that (Preprocess
    or the invoke failed, or was cancelled) it starts at what failed, which reaches the
    invoke."""
    if pipeline != settings.adf_endpoint_score_pipeline:
        return None
    return INVOKE if INVOKE in outputs else None


def endpoint_job(outputs: dict) -> dict | None:
    """What the record shows of the endpoint's job, from the Web activities' outputs."""
    invoked = outputs.get(INVOKE)
    if not isinstance(invoked, dict):
        return None
    checked = outputs.get(CHECK) if isinstance(outputs.get(CHECK), dict) else invoked
    props = checked.get("properties") or {}
    return {"jobId": invoked.get("name"), "status": props.get("status"),
            "error": (props.get("error") or {}).get("message")}


def summarize_predictions(lines: Iterable[str]) -> dict:
    """The Batch scorer's summary, from `id,class,confidence` lines (a header is skipped;
    lines with a class or confidence out of range are left out and counted)."""
    counts = [0] * N_CLASSES
    hist = [0] * (len(CONFIDENCE_BINS) - 1)
    rows, total, malformed = 0, 0.0, 0
    for line in lines:
        fields = line.strip().rsplit(",", 2)
        if not line.strip() or fields[1:2] == ["class"]:
            continue
        try:  # a line the deployment should not have written is counted, not fatal
            if len(fields) != 3:
                raise ValueError
            cls, conf = int(fields[1]), float(fields[2])
            if not (0 <= cls < N_CLASSES and 0.0 <= conf <= 1.0):
                raise ValueError
        except ValueError:
            malformed += 1
            continue
        counts[cls] += 1
        # numpy.histogram's bins: [edge, next edge), the last one closed
        hist[max(0, min(bisect_right(CONFIDENCE_BINS, conf) - 1, len(hist) - 1))] += 1
        rows, total = rows + 1, total + conf
    class_counts = {str(c): counts[c] for c in range(N_CLASSES)}
    return {
        "rows": rows, "classCounts": class_counts,
        "classDistribution": {k: (round(v / rows, 6) if rows else 0.0)
                              for k, v in class_counts.items()},
        "confidenceHistogram": {"bins": CONFIDENCE_BINS, "counts": hist},
        "meanConfidence": round(total / rows, 6) if rows else None,
        **({"malformedLines": malformed} if malformed else {}),
    }


def score_output(ml, record: dict) -> dict | None:
    """The `Score` output of a succeeded endpoint run, from its output file (`ml` is the ML
    container's `BlobState`); None for other runs or when there is no output file."""
    path = record.get("endpointOutputPath")
    if record.get("scoreTarget") != ENDPOINT or record.get("status") != "succeeded" or not path:
        return None
    lines = ml.read_lines(path)
    if lines is None:
        return None
    return {**summarize_predictions(lines), "predictionsPath": path,
            "source": "endpoint output"}
