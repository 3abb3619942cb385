"""The ML container's layout, as `training/` writes it, described once on the app side
(the way `shared.landing.layout` describes the landing zone). `training/` owns these
paths; the app only reads them (and points ADF at them through pipeline parameters).

    code/current.json                    {"version": ...} of the package last uploaded
    code/<version>/training.zip          what Batch runs
    curated/<batchId>/part-NNNNN.npz     Preprocess output
    models/champion.json                 {"version", "promotedAt", ...} of the champion
    models/<version>/reference.json      the model's training-data reference (drift)
    models/<version>/metrics.json        hold-out metrics
    predictions/<batchId>/predictions.csv  Score output
"""
from __future__ import annotations

CODE_POINTER = "code/current.json"
CHAMPION_POINTER = "models/champion.json"


def model_reference(version: str) -> str:
    return f"models/{version}/reference.json"
