"""Curated data of one batch: `<ml>/curated/<batchId>/part-NNNNN.npz` shards (ids, uint8
pixels, uint8 labels when labelled) and `_manifest.json` listing them. Typed and compact, so
`train` and `score` read it without re-parsing CSV, one shard at a time (memory stays flat).
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from training.activity import UsageError
from training.blobs import Store

SHARD_ROWS = 65536
MANIFEST = "_manifest.json"


def prefix(batch_id: str) -> str:
    return f"curated/{batch_id}/"


@dataclass
class Shard:
    ids: np.ndarray
    X: np.ndarray  # uint8 (n, 64)
    y: np.ndarray | None  # uint8 (n,) when labelled


class CuratedWriter:
    """Collects rows and writes a shard every SHARD_ROWS rows."""

    def __init__(self, store: Store, ml: str, batch_id: str, kind: str,
                 shard_rows: int = SHARD_ROWS, on_shard=None):
        self.store, self.ml, self.batch_id, self.kind = store, ml, batch_id, kind
        self.shard_rows = shard_rows
        self.on_shard = on_shard  # called with each Shard (statistics)
        self.ids: list[str] = []
        self.pixels: list[list[int]] = []
        self.labels: list[int] = []
        self.parts: list[dict] = []
        self.rows = 0

    def add(self, rid: str, pixels: list[int], label: int | None) -> None:
        self.ids.append(rid)
        self.pixels.append(pixels)
        if label is not None:
            self.labels.append(label)
        if len(self.ids) >= self.shard_rows:
            self._flush()

    def _flush(self) -> None:
        if not self.ids:
            return
        shard = Shard(
            ids=np.array(self.ids, dtype=str),
            X=np.array(self.pixels, dtype=np.uint8).reshape(-1, 64),
            y=np.array(self.labels, dtype=np.uint8) if self.kind == "labelled" else None,
        )
        buf = io.BytesIO()
        arrays = {"ids": shard.ids, "X": shard.X}
        if shard.y is not None:
            arrays["y"] = shard.y
        np.savez(buf, **arrays)
        name = f"{prefix(self.batch_id)}part-{len(self.parts):05d}.npz"
        self.store.write_bytes(self.ml, name, buf.getvalue(), "application/octet-stream")
        self.parts.append({"name": name, "rows": len(shard.ids)})
        self.rows += len(shard.ids)
        if self.on_shard:
            self.on_shard(shard)
        self.ids, self.pixels, self.labels = [], [], []

    def close(self) -> dict:
        self._flush()
        manifest = {
            "batchId": self.batch_id, "kind": self.kind, "rows": self.rows,
            "format": "npz", "columns": ["id"] + [f"p{i}" for i in range(64)]
            + (["label"] if self.kind == "labelled" else []),
            "parts": self.parts,
        }
        self.store.write_json(self.ml, prefix(self.batch_id) + MANIFEST, manifest)
        return manifest


def read_manifest(store: Store, ml: str, batch_id: str) -> dict:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return store.read_json(ml, prefix(batch_id) + MANIFEST)
    except ResourceNotFoundError:
        raise UsageError(
            f"no curated data for batch {batch_id!r} at {ml}/{prefix(batch_id)}{MANIFEST}: "
            "run preprocess first"
        ) from None


def read_shard(source) -> Shard:
    """One `part-NNNNN.npz` shard from a path or a binary file object."""
    with np.load(source, allow_pickle=False) as z:
        return Shard(ids=z["ids"], X=z["X"], y=z["y"] if "y" in z.files else None)


def iter_shards(store: Store, ml: str, manifest: dict) -> Iterator[Shard]:
    for part in manifest["parts"]:
        yield read_shard(io.BytesIO(store.read_bytes(ml, part["name"])))


def load_all(store: Store, ml: str, manifest: dict) -> Shard:
    """Every row at once (train: a labelled batch is small enough)."""
    shards = list(iter_shards(store, ml, manifest))
    if not shards:
        return Shard(np.array([], dtype=str), np.zeros((0, 64), np.uint8), np.zeros(0, np.uint8))
    ys = [s.y for s in shards]
    return Shard(
        ids=np.concatenate([s.ids for s in shards]),
        X=np.concatenate([s.X for s in shards]),
        y=None if any(y is None for y in ys) else np.concatenate(ys),
    )
