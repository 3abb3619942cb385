"""`python -m training.diabetes.score`: predict disease progression for a batch's curated
rows with the champion; `<ml>/diabetes/predictions/<batchId>/predictions.csv`
(`id,prediction`) and `summary.json`, the contract's predictions summary: row count, mean,
and a histogram of the predicted values over the edges of the champion's reference (so the
glue compares the two bin by bin). A labelled batch also reports its RMSE.
"""
from __future__ import annotations

import logging
import sys

import numpy as np

from training import champion
from training.activity import UsageError, main_wrapper
from training.blobs import Store, service_client, split_path
from training.diabetes import data, layout
from training.diabetes import model as mdl
from training.diabetes.preprocess import load_curated

log = logging.getLogger("training.diabetes.score")


def run(ctx, args) -> dict:
    batch_id, ml = ctx.batch_id, ctx.ml_container
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    ptr = champion.read_pointer(store, ml, layout.POINTER)
    if ptr.doc is None:
        raise UsageError(f"no champion model yet ({ml}/{layout.POINTER} does not exist): "
                         "train one (pipeline diabetes_train_and_score) before scoring")
    version = ptr.doc["version"]
    model = store.read_json(*split_path(ptr.doc["modelPath"]))
    edges = store.read_json(ml, layout.model_folder(version) + "reference.json")[
        "predictionHistogram"]["edges"]
    arrays = load_curated(store, ml, batch_id)
    pred = mdl.predict(model, arrays["X"]) if len(arrays["ids"]) else np.zeros(0)
    out_dir = layout.predictions(batch_id)
    lines = ["id,prediction"] + [f"{i},{p:.4f}" for i, p in zip(arrays["ids"].tolist(),
                                                                 pred.tolist(), strict=True)]
    store.write_bytes(ml, out_dir + "predictions.csv", ("\n".join(lines) + "\n").encode(),
                      "text/csv")
    doc = {"batchId": batch_id, "modelVersion": version, "mode": ctx.get("mode"),
           "rows": int(len(pred)),
           "predictionHistogram": {"edges": edges, "counts": data.histogram(pred, edges)},
           "meanPrediction": round(float(pred.mean()), 4) if len(pred) else None}
    if "y" in arrays and len(pred):
        doc["labelledRmse"] = mdl.metrics(arrays["y"], pred)["rmse"]
    store.write_json(ml, out_dir + "summary.json", doc)
    log.info("batch %s: %d predictions with %s, mean %s", batch_id, doc["rows"], version,
             doc["meanPrediction"])
    return {**doc, "predictionsPath": f"{ml}/{out_dir}predictions.csv",
            "summaryPath": f"{ml}/{out_dir}summary.json"}


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.diabetes.score", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
