"""`python -m training.score`: score a batch's curated rows with the champion model.

Loads the model `<ml>/models/champion.json` points at, reads the batch's curated shards one
at a time (memory stays flat however large the batch), and streams
`<ml>/predictions/<batchId>/predictions.csv` (`id,class,confidence`) as staged blocks, with
`summary.json` next to it (row count, class distribution, confidence histogram). In
train-and-score mode the rows are the labelled batch just curated (and the accuracy on its
labels is reported too); in score-only mode the unlabelled rows.
"""
from __future__ import annotations

import csv
import io
import logging
import sys

import numpy as np

from training import champion
from training.activity import UsageError, main_wrapper
from training.blobs import BlockWriter, Store, service_client, split_path
from training.curated import iter_shards, read_manifest
from training.stats import N_CLASSES, class_distribution

log = logging.getLogger("training.score")
CONFIDENCE_BINS = [round(i / 10, 1) for i in range(11)]
_NEEDS_QUOTING = (",", '"', "\n", "\r")


def prediction_lines(ids: np.ndarray, classes: np.ndarray, confidence: np.ndarray) -> bytes:
    if any(ch in i for i in ids for ch in _NEEDS_QUOTING):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerows((i, int(c), f"{p:.6f}") for i, c, p in zip(ids, classes, confidence, strict=True))
        return buf.getvalue().encode()
    return "".join(f"{i},{c},{p:.6f}\n" for i, c, p in
                   zip(ids.tolist(), classes.tolist(), confidence.tolist(), strict=True)).encode()


def predict(net, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and its probability per row: what every scorer writes (this
    program on Batch, `training.aml_score` on an Azure ML batch endpoint)."""
    from training import model as mdl

    proba = mdl.predict_proba(net, X)
    classes = proba.argmax(axis=1)
    return classes, proba[np.arange(len(classes)), classes]


class Summary:
    def __init__(self) -> None:
        self.rows = 0
        self.class_counts = np.zeros(N_CLASSES, dtype=np.int64)
        self.hist = np.zeros(len(CONFIDENCE_BINS) - 1, dtype=np.int64)
        self.conf_sum = 0.0
        self.labelled = 0
        self.correct = 0

    def update(self, classes, confidence, labels=None) -> None:
        self.rows += len(classes)
        self.class_counts += np.bincount(classes, minlength=N_CLASSES)[:N_CLASSES]
        self.hist += np.histogram(confidence, bins=CONFIDENCE_BINS)[0]
        self.conf_sum += float(confidence.sum())
        if labels is not None:
            self.labelled += len(labels)
            self.correct += int((labels == classes).sum())

    def to_dict(self) -> dict:
        counts = {str(c): int(self.class_counts[c]) for c in range(N_CLASSES)}
        out = {
            "rows": self.rows,
            "classCounts": counts,
            "classDistribution": class_distribution(counts),
            "confidenceHistogram": {"bins": CONFIDENCE_BINS, "counts": self.hist.tolist()},
            "meanConfidence": round(self.conf_sum / self.rows, 6) if self.rows else None,
        }
        if self.labelled:
            out["labelledAccuracy"] = round(self.correct / self.labelled, 6)
        return out


def run(ctx, args) -> dict:
    from training import model as mdl

    batch_id, ml = ctx.batch_id, ctx.ml_container
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    ptr = champion.read_pointer(store, ml)
    if ptr.doc is None:
        raise UsageError(f"no champion model yet ({ml}/{champion.POINTER} does not exist): "
                         "train a model (pipeline train_and_score) before scoring")
    version = ptr.doc["version"]
    c, b = split_path(ptr.doc.get("modelPath") or f"{ml}/models/{version}/{mdl.MODEL_FILE}")
    net = mdl.from_bytes(store.read_bytes(c, b))
    manifest = read_manifest(store, ml, batch_id)
    log.info("batch %s (%s, mode %s): scoring %d rows with %s", batch_id, manifest.get("kind"),
             ctx.get("mode"), manifest["rows"], version)

    out_dir = f"predictions/{batch_id}/"
    writer = BlockWriter(store.blob(ml, out_dir + "predictions.csv", create=True))
    writer.write(b"id,class,confidence\n")
    summary = Summary()
    for shard in iter_shards(store, ml, manifest):
        classes, confidence = predict(net, shard.X)
        writer.write(prediction_lines(shard.ids, classes, confidence))
        summary.update(classes, confidence, shard.y)
    writer.close()
    doc = {"batchId": batch_id, "modelVersion": version, "mode": ctx.get("mode"),
           "kind": manifest.get("kind"), **summary.to_dict()}
    store.write_json(ml, out_dir + "summary.json", doc)
    log.info("batch %s: %d predictions, mean confidence %s", batch_id, summary.rows,
             doc["meanConfidence"])
    return {
        **doc,
        "predictionsPath": f"{ml}/{out_dir}predictions.csv",
        "summaryPath": f"{ml}/{out_dir}summary.json",
    }


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.score", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
