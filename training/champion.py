"""Champion/challenger: the pure decision, and the pointer blob `<ml>/models/champion.json`
updated under an etag condition so two trainers racing cannot both win."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

log = logging.getLogger("training.champion")
POINTER = "models/champion.json"
FIRST, PROMOTED, KEPT = "first-model", "promoted", "kept-champion"


def should_promote(challenger_accuracy: float, champion_accuracy: float, tolerance: float,
                   lower_is_better: bool = False) -> bool:
    """Promote unless the challenger is worse than the champion, on the same held-out data,
    by more than `tolerance` (absolute, in the metric's units: accuracy by default, or a
    metric where lower is better such as RMSE)."""
    if lower_is_better:
        return challenger_accuracy <= champion_accuracy + tolerance + 1e-12
    return challenger_accuracy >= champion_accuracy - tolerance - 1e-12


@dataclass
class Pointer:
    doc: dict | None
    etag: str | None


def read_pointer(store, ml: str, pointer: str = POINTER) -> Pointer:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        downloader = store.blob(ml, pointer).download_blob()
    except ResourceNotFoundError:
        return Pointer(None, None)
    import json

    return Pointer(json.loads(downloader.readall()), downloader.properties.etag)


def write_pointer(store, ml: str, version: str, accuracy: float, model_path: str,
                  expected: Pointer, pointer: str = POINTER, metric: str = "accuracy") -> bool:
    """Point the champion at `version` if the pointer is still what we read (`expected`);
    False when someone else changed it in between. `accuracy` is the model's value of
    `metric`, which the pointer records under that name."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError

    doc = {"version": version, metric: accuracy, "modelPath": model_path,
           "promotedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    try:
        if expected.etag is None:
            store.write_json(ml, pointer, doc, overwrite=False)
        else:
            store.write_json(ml, pointer, doc, etag=expected.etag,
                             match_condition=MatchConditions.IfNotModified)
    except (ResourceExistsError, ResourceModifiedError) as exc:
        log.warning("champion pointer changed while deciding (%s); deciding again",
                    type(exc).__name__)
        return False
    return True
