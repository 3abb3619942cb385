"""Scoring throughput: `training.score` end to end (champion load, curated shards read from
Azurite, prediction, predictions.csv streamed back, summary) against plain `model.predict`
on the same rows already in memory, plus peak traced memory at two sizes to show it stays
flat. Runs its own Azurite; the model is a real champion trained by `training.train`.

`python -m bench.bench_scoring [--short]`
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from bench.common import Row, best_of, peak_memory

FULL_ROWS, SHORT_ROWS = 200_000, 20_000


def _ctx(conn: str, ml: str, workdir: Path, **params):
    from training.activity import Context

    return Context(params={"mlContainer": ml, "codeVersion": "bench", "trainOptions": "{}", **params},
                   workdir=workdir, connection_string=conn)


def _prepare(conn: str, tmp: Path, rows_list: list[int], short: bool):
    """Labelled batch -> champion; unlabelled batches of each size -> curated shards."""
    import datetime as dt

    from azure.storage.blob import BlobServiceClient

    from training import preprocess, train
    from training.blobs import Store
    from training.generate import upload_batch

    svc = BlobServiceClient.from_connection_string(conn)
    store = Store(svc)

    def curate(batch_id: str, kind: str, rows: int, seed: int) -> None:
        name = upload_batch(kind, rows, "clean", seed, container="landing", service=svc,
                            name=batch_id)
        props = svc.get_blob_client("landing", name).get_blob_properties()
        store.write_json("state", f"manifests/{batch_id}.json", {
            "batchId": batch_id, "kind": kind, "container": "landing",
            "createdAt": dt.datetime.now(dt.UTC).isoformat(),
            "files": [{"name": name, "size": props.size, "etag": props.etag,
                       "lastModified": props.last_modified.isoformat()}]})
        preprocess.run(_ctx(conn, "mlbench", tmp, batchId=batch_id,
                            manifestPath=f"state/manifests/{batch_id}.json"), None)

    curate("lab", "labelled", 1437, 1)
    opts = '{"epochs": 5}' if short else "{}"
    out = train.run(_ctx(conn, "mlbench", tmp, batchId="lab", trainOptions=opts), None)
    for rows in rows_list:
        curate(f"unl-{rows}", "unlabelled", rows, 2)
    return store, out


def run(short: bool = False) -> list[Row]:
    import numpy as np

    from devstack.azurite import Azurite
    from training import model as mdl
    from training import score
    from training.blobs import split_path
    from training.curated import SHARD_ROWS, load_all, read_manifest

    rows = SHORT_ROWS if short else FULL_ROWS
    # Memory is flat once a batch spans several shards: compare against one full shard.
    small = SHARD_ROWS if rows >= 2 * SHARD_ROWS else rows // 4
    repeat = 1 if short else 3
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        az = Azurite(tmp / "azurite").start()
        try:
            store, trained = _prepare(az.connection_string, tmp, [rows, small], short)
            conn = az.connection_string

            def score_batch(n: int) -> dict:
                return score.run(_ctx(conn, "mlbench", tmp, batchId=f"unl-{n}", mode="score_only"), None)

            first = score_batch(rows)  # warm: TF graph building, imports
            assert first["rows"] == rows
            t_score = best_of(lambda: score_batch(rows), repeat)

            net = mdl.from_bytes(store.read_bytes(*split_path(trained["modelPath"])))
            X = load_all(store, "mlbench", read_manifest(store, "mlbench", f"unl-{rows}")).X
            Xf = X.astype(np.float32)
            net.predict(Xf[:1024], verbose=0)  # warm
            t_predict = best_of(lambda: net.predict(Xf, verbose=0), repeat)
            t_predict_big = best_of(lambda: net.predict(Xf, batch_size=65536, verbose=0), repeat)

            _, peak_big = peak_memory(lambda: score_batch(rows))
            _, peak_small = peak_memory(lambda: score_batch(small))
        finally:
            az.stop()

    score_rps, predict_rps, big_rps = rows / t_score, rows / t_predict, rows / t_predict_big
    ratio = score_rps / predict_rps
    mb = 1024 * 1024
    return [
        Row("scoring", f"score end to end vs model.predict (default batch 32), {rows:,} rows",
            f"{score_rps:,.0f} vs {predict_rps:,.0f} rows/s; score peak {peak_big / mb:.1f} MB",
            ratio, ">= 0.8x", ratio >= 0.8),
        Row("scoring", f"score end to end vs model.predict(batch_size=65536), {rows:,} rows",
            f"{score_rps:,.0f} vs {big_rps:,.0f} rows/s", score_rps / big_rps,
            "info (I/O + CSV cost)", None),
        Row("scoring", f"peak traced memory, {rows:,} vs {small:,} rows",
            f"{peak_big / mb:.1f} MB vs {peak_small / mb:.1f} MB", peak_big / peak_small,
            "<= 1.5x (flat)" if not short else "full run only (one shard here)",
            peak_big / peak_small <= 1.5 if not short else None),
    ]


if __name__ == "__main__":
    t0 = time.perf_counter()
    for row in run(short="--short" in sys.argv):
        print(row)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
