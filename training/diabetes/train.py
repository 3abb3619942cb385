"""`python -m training.diabetes.train`: fit the diabetes model on a labelled batch, judge it
by RMSE on a held-out part, write it with its reference and decide champion/challenger.

The hold-out is a seeded 20% (seed from the data hash: every challenger on this batch and
the champion are judged on the same rows). `<ml>/diabetes/models/<modelVersion>/` gets
model.json, metrics.json, reference.json (feature histograms over the fixed edges, and the
model's predictions as a histogram: edges at the deciles of its predictions on the hold-out,
the edges a scored batch is binned with, counts of its predictions on the training split)
and decision.json. The champion pointer is
`<ml>/diabetes/models/champion.json`; a challenger is promoted unless its RMSE is higher
than the champion's on the same rows by more than `promotionTolerance`.
trainOptions: `alpha` (ridge penalty; a huge one makes a weak model), `holdoutFraction`,
`promotionTolerance` (RMSE units).
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
from dataclasses import asdict, dataclass

import numpy as np

from training.activity import UsageError, main_wrapper
from training.blobs import Store, service_client, split_path
from training.diabetes import data, layout
from training.diabetes import model as mdl
from training.diabetes.preprocess import load_curated
from training.options import parse_options
from training.train import decide

log = logging.getLogger("training.diabetes.train")
MIN_ROWS = 50
METRIC = "rmse"
BOUNDS = {"alpha": (float, 0.0, 1e9), "holdoutFraction": (float, 0.05, 0.5),
          "promotionTolerance": (float, 0.0, 1000.0)}


@dataclass(frozen=True)
class Options:
    alpha: float = 1.0
    holdoutFraction: float = 0.2
    promotionTolerance: float = 1.0


def reference(X: np.ndarray, predicted: np.ndarray, edge_rows: np.ndarray) -> dict:
    """The contract's reference: the rows the model saw (feature histograms over the fixed
    bins) and its own predictions on them, as a histogram whose edges are the deciles of the
    predictions on `edge_rows` (the hold-out) and whose counts are the other rows'. Bins
    cut at the deciles of the very rows they count make the drift test slightly too eager
    (measured: 0.63% false alarms against a 0.5% share, 0.47% with the split)."""
    edges = data.quantile_edges(predicted[edge_rows])
    counted = np.setdiff1d(np.arange(len(predicted)), edge_rows)
    return {"rows": int(len(X)), "featureStats": data.feature_stats(X),
            "predictionHistogram": {"edges": edges,
                                    "counts": data.histogram(predicted[counted], edges)}}


def run(ctx, args) -> dict:
    options = parse_options(ctx.get("trainOptions"), Options, BOUNDS)
    batch_id, ml = ctx.batch_id, ctx.ml_container
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    arrays = load_curated(store, ml, batch_id)
    if "y" not in arrays:
        raise UsageError(f"batch {batch_id!r} has no targets; train needs labelled data")
    X, y = arrays["X"], arrays["y"]
    if len(y) < MIN_ROWS:
        raise UsageError(f"batch {batch_id!r} has {len(y)} curated rows; train needs at least {MIN_ROWS}")
    dhash = hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()
    order = np.random.default_rng(int(dhash[:8], 16)).permutation(len(y))
    cut = max(1, int(round(len(y) * options.holdoutFraction)))
    hold, train = np.sort(order[:cut]), np.sort(order[cut:])
    key = json.dumps({"data": dhash, "code": ctx.get("codeVersion") or "local",
                      "options": asdict(options)}, sort_keys=True)
    version = "d-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    model = mdl.fit(X[train], y[train], options.alpha)
    metrics = mdl.metrics(y[hold], mdl.predict(model, X[hold]))
    folder = layout.model_folder(version)
    model_path = f"{ml}/{folder}{layout.MODEL_FILE}"
    store.write_json(ml, folder + layout.MODEL_FILE, {"modelVersion": version, **model})
    store.write_json(ml, folder + "metrics.json", {"modelVersion": version, **metrics})
    store.write_json(ml, folder + "reference.json", reference(X, mdl.predict(model, X), hold))

    def evaluate_champion(champ_version: str, champ_path: str | None) -> float | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            champ = store.read_json(*split_path(
                champ_path or f"{ml}/{layout.model_folder(champ_version)}{layout.MODEL_FILE}"))
        except (ResourceNotFoundError, UsageError, ValueError) as exc:
            log.warning("champion %s cannot be loaded (%s); the new model replaces it",
                        champ_version, exc)
            return None
        return mdl.metrics(y[hold], mdl.predict(champ, X[hold]))[METRIC]

    result = decide(store, ml, version, metrics[METRIC], model_path, options.promotionTolerance,
                    evaluate_champion, pointer=layout.POINTER, metric=METRIC,
                    lower_is_better=True)
    champion = result.pop("championAccuracy")
    store.write_json(ml, folder + "decision.json", {"modelVersion": version, **result,
                     METRIC: metrics[METRIC], "championRmse": champion,
                     "tolerance": options.promotionTolerance})
    log.info("batch %s: %s rmse %.3f vs champion %s %s -> %s", batch_id, version,
             metrics[METRIC], result["championVersion"], champion, result["decision"])
    return {
        "batchId": batch_id, "modelVersion": version, "primaryMetric": METRIC,
        "metrics": metrics, "championMetrics": None if champion is None else {METRIC: champion},
        "trainRows": int(len(train)), "holdoutRows": int(len(hold)),
        "tolerance": options.promotionTolerance, "parameters": asdict(options),
        "modelPath": model_path, "metricsPath": f"{ml}/{folder}metrics.json",
        "referencePath": f"{ml}/{folder}reference.json", **result,
    }


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.diabetes.train", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
