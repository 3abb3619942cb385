"""The scoring script of the Azure Machine Learning batch deployment (`init()`/`run()`).

The batch endpoint job hands `run` the files of its input folder in mini-batches; the input
is a batch's curated data (`<ml>/curated/<batchId>/`, the `part-NNNNN.npz` shards Preprocess
wrote; `_manifest.json` and anything else is skipped). Each shard is scored with the
champion the deployment serves, by the same code as `training.score` on Batch, so both
targets give the same predictions for the same rows. `run` returns one
`id,class,confidence` line per row, which the deployment (`output_action: append_row`)
appends to the job's output file, no header.

`init` loads the model from `AZUREML_MODEL_DIR` (the registered champion: a `model.keras`
file, found wherever it sits below that folder).
"""
from __future__ import annotations

import os
from pathlib import Path

_net = None


def model_file(model_dir: str | os.PathLike) -> Path:
    """The one `.keras` file under the deployment's model folder."""
    found = sorted(Path(model_dir).rglob("*.keras"))
    if not found:
        raise FileNotFoundError(f"no .keras model under AZUREML_MODEL_DIR={model_dir}")
    return found[0]


def init() -> None:
    global _net
    from training import model as mdl

    _net = mdl.from_bytes(model_file(os.environ["AZUREML_MODEL_DIR"]).read_bytes())


def run(mini_batch: list) -> list[str]:
    """Score each shard of the mini-batch: `id,class,confidence` lines, in input order."""
    from training.curated import read_shard
    from training.score import predict, prediction_lines

    if _net is None:
        raise RuntimeError("init() has not loaded the model")
    lines: list[str] = []
    for path in mini_batch:
        if not str(path).endswith(".npz"):
            continue
        shard = read_shard(str(path))
        classes, confidence = predict(_net, shard.X)
        lines.extend(prediction_lines(shard.ids, classes, confidence).decode().splitlines())
    return lines
