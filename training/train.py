"""`python -m training.train`: train a Keras model on a batch's curated labelled data.

Splits the curated rows into train and held-out parts (stratified; seeded by the data hash,
so every run on this batch gets the same split), trains with a fixed seed, evaluates on the
held-out part, writes `<ml>/models/<modelVersion>/` (model.keras, metrics.json,
model_card.json, reference.json = the drift reference of every curated row it saw), then decides
champion/challenger: the champion is evaluated on the same held-out rows and the new model
is promoted (pointer `<ml>/models/champion.json`, etag-guarded) unless it is worse by more
than `promotionTolerance`. The model version is derived from the data hash, code version and
options, so a retried activity rewrites the same folder.

Caveat: the champion may have been trained on rows that are in this batch's hold-out (for
example when batches repeat digits), which flatters the champion: promotions err on the
side of keeping it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys

import numpy as np

from training import champion
from training.activity import UsageError, main_wrapper
from training.blobs import Store, service_client
from training.curated import load_all, prefix, read_manifest
from training.options import TrainOptions, parse_options
from training.stats import reference as reference_of

log = logging.getLogger("training.train")
MIN_ROWS = 50
MAX_DECISION_ATTEMPTS = 5


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): every class contributes `fraction` of its rows (at least
    one when it has two or more), chosen by a seeded permutation."""
    rng = np.random.default_rng(seed)
    train, hold = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        cut = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            cut = min(max(cut, 1), len(idx) - 1)
        else:
            cut = 0
        hold.append(idx[:cut])
        train.append(idx[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(hold))


def data_hash(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(X, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(y, dtype=np.uint8).tobytes())
    return h.hexdigest()


def model_version(dhash: str, code_version: str, options: TrainOptions) -> str:
    key = json.dumps({"data": dhash, "code": code_version, "options": options.as_dict()},
                     sort_keys=True)
    return "m-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def decide(store, ml: str, version: str, accuracy: float, model_path: str, tolerance: float,
           evaluate_champion, pointer: str = champion.POINTER, metric: str = "accuracy",
           lower_is_better: bool = False) -> dict:
    """The champion/challenger loop: read the pointer, compare, write it under its etag;
    on a lost race read again. `evaluate_champion(version, path)` -> the champion's value
    of `metric` (accuracy by default) on the same held-out rows, or None."""
    scores: dict[str, float | None] = {}

    def write(ptr) -> bool:
        return champion.write_pointer(store, ml, version, accuracy, model_path, ptr, pointer,
                                      metric)

    for _ in range(MAX_DECISION_ATTEMPTS):
        ptr = champion.read_pointer(store, ml, pointer)
        if ptr.doc is None:
            if write(ptr):
                return {"decision": champion.FIRST, "promoted": True,
                        "championVersion": None, "championAccuracy": None}
            continue
        champ = ptr.doc.get("version")
        if champ == version:  # a retried run that already won
            return {"decision": champion.PROMOTED, "promoted": True,
                    "championVersion": champ, "championAccuracy": accuracy}
        if champ not in scores:
            scores[champ] = evaluate_champion(champ, ptr.doc.get("modelPath"))
        champ_acc = scores[champ]
        if champ_acc is not None and not champion.should_promote(accuracy, champ_acc, tolerance,
                                                                 lower_is_better):
            return {"decision": champion.KEPT, "promoted": False,
                    "championVersion": champ, "championAccuracy": champ_acc}
        if write(ptr):
            return {"decision": champion.PROMOTED, "promoted": True,
                    "championVersion": champ, "championAccuracy": champ_acc}
    raise RuntimeError(f"champion pointer kept changing; gave up after {MAX_DECISION_ATTEMPTS} tries")


def run(ctx, args) -> dict:
    options = parse_options(ctx.get("trainOptions"))  # bad options fail before any work
    batch_id, ml = ctx.batch_id, ctx.ml_container
    code_version = ctx.get("codeVersion") or "local"
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    manifest = read_manifest(store, ml, batch_id)
    if manifest.get("kind") != "labelled":
        raise UsageError(f"batch {batch_id!r} is {manifest.get('kind')}; train needs labelled data")
    data = load_all(store, ml, manifest)
    if len(data.ids) < MIN_ROWS:
        raise UsageError(f"batch {batch_id!r} has {len(data.ids)} curated rows; train needs at least {MIN_ROWS}")

    from training import model as mdl

    dhash = data_hash(data.X, data.y)
    # The split depends on the data only (not on `seed`), so every challenger trained on this
    # batch, and the champion, are judged on the same held-out rows.
    train_idx, hold_idx = stratified_split(data.y, options.holdoutFraction, int(dhash[:8], 16))
    X_tr, y_tr, X_ho, y_ho = data.X[train_idx], data.y[train_idx], data.X[hold_idx], data.y[hold_idx]
    version = model_version(dhash, code_version, options)
    log.info("batch %s: training %s on %d rows, holding out %d (options %s)", batch_id, version,
             len(train_idx), len(hold_idx), options.as_dict())
    mdl.seed_everything(options.seed)
    net = mdl.build(options.hiddenUnits, options.learningRate)
    mdl.fit(net, X_tr, y_tr, options.epochs, options.batchSize)
    metrics = mdl.metrics_from(y_ho, mdl.predict_proba(net, X_ho))

    folder = f"models/{version}/"
    model_path = f"{ml}/{folder}{mdl.MODEL_FILE}"
    # The drift reference covers every curated row the model saw (training split and
    # hold-out): the larger sample halves the reference's own noise in the drift tests.
    predicted = mdl.predict_proba(net, data.X).argmax(axis=1)
    reference = reference_of(data.X, data.y, predicted)
    import keras
    import tensorflow as tf

    card = {
        "modelVersion": version, "createdAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "codeVersion": code_version, "batchId": batch_id, "runId": ctx.get("runId"),
        "dataHash": dhash, "curatedPath": f"{ml}/{prefix(batch_id)}",
        "trainRows": int(len(train_idx)), "holdoutRows": int(len(hold_idx)),
        "parameters": options.as_dict(),
        "architecture": f"Rescaling(1/16) -> Dense({options.hiddenUnits}, relu) -> Dense(10, softmax)",
        "framework": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "metrics": {"accuracy": metrics["accuracy"], "loss": metrics["loss"]},
        "intendedUse": "classify 8x8 digit images (pixels 0..16) into 0..9",
    }
    store.write_bytes(ml, folder + mdl.MODEL_FILE, mdl.to_bytes(net), "application/octet-stream")
    store.write_json(ml, folder + "metrics.json", {"modelVersion": version, **metrics})
    store.write_json(ml, folder + "model_card.json", card)
    store.write_json(ml, folder + "reference.json", reference)

    def evaluate_champion(champ_version: str, champ_path: str | None) -> float | None:
        from azure.core.exceptions import ResourceNotFoundError

        from training.blobs import split_path

        try:
            c, b = split_path(champ_path or f"{ml}/models/{champ_version}/{mdl.MODEL_FILE}")
            champ_model = mdl.from_bytes(store.read_bytes(c, b))
        except (ResourceNotFoundError, UsageError, ValueError, OSError) as exc:
            log.warning("champion %s cannot be loaded (%s); the new model replaces it",
                        champ_version, exc)
            return None
        return mdl.metrics_from(y_ho, mdl.predict_proba(champ_model, X_ho))["accuracy"]

    result = decide(store, ml, version, metrics["accuracy"], model_path,
                    options.promotionTolerance, evaluate_champion)
    store.write_json(ml, folder + "decision.json", {"modelVersion": version, **result,
                     "accuracy": metrics["accuracy"], "tolerance": options.promotionTolerance})
    log.info("batch %s: %s accuracy %.4f vs champion %s %s -> %s", batch_id, version,
             metrics["accuracy"], result["championVersion"], result["championAccuracy"],
             result["decision"])
    return {
        "batchId": batch_id,
        "modelVersion": version,
        "accuracy": metrics["accuracy"],
        "loss": metrics["loss"],
        "trainRows": int(len(train_idx)),
        "holdoutRows": int(len(hold_idx)),
        "tolerance": options.promotionTolerance,
        "modelPath": model_path,
        "metricsPath": f"{ml}/{folder}metrics.json",
        "referencePath": f"{ml}/{folder}reference.json",
        # the contract's metrics output (contract/metrics.schema.json); `accuracy` and
        # `championAccuracy` above stay for the records and tables that read them
        "primaryMetric": "accuracy",
        "metrics": {"accuracy": metrics["accuracy"], "loss": metrics["loss"]},
        "championMetrics": (None if result["championAccuracy"] is None
                            else {"accuracy": result["championAccuracy"]}),
        **result,
    }


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.train", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
