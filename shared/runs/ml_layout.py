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

A feed other than the default keeps the same shapes under its own folder, `<feed>/`
(`Feed.ml_prefix`, as `training/diabetes` writes them): its champion and references are
its own.
"""
from __future__ import annotations

CODE_POINTER = "code/current.json"
CHAMPION_POINTER = "models/champion.json"


def champion_pointer(ml_prefix: str = "") -> str:
    return ml_prefix + CHAMPION_POINTER


def model_reference(version: str, ml_prefix: str = "") -> str:
    return f"{ml_prefix}models/{version}/reference.json"
