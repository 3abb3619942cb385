"""Where the diabetes workload keeps its files in the ML container: under `PREFIX`, the same
shapes as the digits' (`curated/`, `quarantine/`, `models/`, `predictions/`)."""
from __future__ import annotations

PREFIX = "diabetes/"
POINTER = PREFIX + "models/champion.json"
MODEL_FILE = "model.json"


def curated(batch_id: str) -> str:
    return f"{PREFIX}curated/{batch_id}/data.npz"


def quarantine(batch_id: str) -> str:
    return f"{PREFIX}quarantine/{batch_id}/rejected.csv"


def model_folder(version: str) -> str:
    return f"{PREFIX}models/{version}/"


def predictions(batch_id: str) -> str:
    return f"{PREFIX}predictions/{batch_id}/"
