"""`python -m training.diabetes.preprocess`: validate a batch's raw diabetes CSV files and
curate them to `<ml>/diabetes/curated/<batchId>/data.npz` (ids, features, targets when
labelled); rejected rows with their reasons to `<ml>/diabetes/quarantine/<batchId>/
rejected.csv`. Outputs (the contract's `data`): row counts, reject reasons, feature
histograms over the fixed edges. The landing zone is never changed.
"""
from __future__ import annotations

import io
import logging
import sys
from collections import Counter

import numpy as np

from training.activity import main_wrapper
from training.blobs import BlockWriter, Store, service_client
from training.diabetes import data, layout
from training.preprocess import Quarantine, curate_batch, read_batch_manifest, reject_reasons

log = logging.getLogger("training.diabetes.preprocess")


class Curated:
    """The kept rows of a batch, written as one .npz (a diabetes batch is small)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.values: list[list[float]] = []
        self.labels: list[float] = []

    def add(self, rid: str, values: list[float], label: float | None) -> None:
        self.ids.append(rid)
        self.values.append(values)
        if label is not None:
            self.labels.append(label)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"ids": np.array(self.ids, dtype=str),
               "X": np.array(self.values, dtype=np.float64).reshape(-1, len(data.FEATURES))}
        if self.labels:
            out["y"] = np.array(self.labels, dtype=np.float64)
        return out


def load_curated(store: Store, ml: str, batch_id: str) -> dict[str, np.ndarray]:
    from azure.core.exceptions import ResourceNotFoundError

    from training.activity import UsageError

    try:
        raw = store.read_bytes(ml, layout.curated(batch_id))
    except ResourceNotFoundError:
        raise UsageError(f"no curated data for batch {batch_id!r} at {ml}/"
                         f"{layout.curated(batch_id)}: run preprocess first") from None
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def run(ctx, args) -> dict:
    batch_id, ml = ctx.batch_id, ctx.ml_container
    store = Store(service_client(ctx.connection_string, ctx.account_url, ctx.client_id))
    manifest = read_batch_manifest(ctx, store)
    kind = manifest["kind"]
    curated = Curated()
    quarantine = Quarantine(BlockWriter(store.blob(ml, layout.quarantine(batch_id), create=True)))
    counters: Counter = Counter()
    bytes_in, changed = curate_batch(store, manifest, curated, quarantine, None, counters, data)
    quarantine.writer.close()
    arrays = curated.arrays()
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    store.write_bytes(ml, layout.curated(batch_id), buf.getvalue(), "application/octet-stream")
    outputs = {
        "batchId": batch_id, "kind": kind, "files": len(manifest["files"]), "bytesIn": bytes_in,
        "rowsIn": counters["rowsIn"], "rowsOut": len(curated.ids),
        "rowsRejected": quarantine.rows, "rejectReasons": reject_reasons(counters),
        "changedFiles": changed, "curatedPath": f"{ml}/{layout.curated(batch_id)}",
        "quarantinePath": f"{ml}/{layout.quarantine(batch_id)}",
        "featureStats": data.feature_stats(arrays["X"]),
    }
    log.info("batch %s: %d rows in, %d curated, %d rejected %s", batch_id, outputs["rowsIn"],
             outputs["rowsOut"], outputs["rowsRejected"], outputs["rejectReasons"])
    return outputs


def main(argv: list[str] | None = None) -> int:
    return main_wrapper(run, argv, "training.diabetes.preprocess", __doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
