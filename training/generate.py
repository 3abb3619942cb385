"""Realistic raw batches from the 8x8 digits, written into the landing zone layout.

`python -m training.generate --kind labelled|unlabelled --rows N
    --variant clean|malformed|drifted --seed S [--container landing] [--date YYYY-MM-DD]
    [--name NAME] [--upload | --out PATH]`

- clean: rows drawn from the digits (labelled rows only from `digits.labelled_pool()`, so
  `digits.reserved_holdout()` stays unseen; without replacement while the pool lasts).
- malformed: the same, with about 10% of rows broken in the ways preprocess must catch
  (non-numeric, out of range, wrong field count, too many missing pixels, bad label, missing
  or duplicate id) plus rows with 1-3 missing pixels that preprocess imputes.
- drifted: a shifted class mix (classes 0-2 five times as likely) and fainter, noisier
  pixels (x0.65 plus Gaussian noise), as from a different scanner.
Everything is a pure function of (kind, rows, variant, seed).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training import digits, schema

KINDS = ("labelled", "unlabelled")
VARIANTS = ("clean", "malformed", "drifted")
MALFORMATIONS = (
    "impute", schema.NON_NUMERIC, schema.OUT_OF_RANGE, schema.WRONG_FIELD_COUNT,
    schema.TOO_MANY_MISSING, schema.MISSING_ID, schema.DUPLICATE_ID, schema.BAD_LABEL,
)


@dataclass
class Batch:
    csv: bytes
    rows: int
    expected_rejects: dict[str, int] = field(default_factory=dict)
    imputed_rows: int = 0

    @property
    def expected_kept(self) -> int:
        return self.rows - sum(self.expected_rejects.values())


def _sample(kind: str, rows: int, variant: str, rng) -> tuple[np.ndarray, np.ndarray]:
    X, y = digits.labelled_pool() if kind == "labelled" else digits.load()
    if variant == "drifted":
        weights = np.where(y <= 2, 5.0, 1.0)
        idx = rng.choice(len(y), size=rows, replace=True, p=weights / weights.sum())
    else:
        idx = rng.choice(len(y), size=rows, replace=rows > len(y))
    Xs, ys = X[idx].astype(np.int64), y[idx]
    if variant == "drifted":
        Xs = np.clip(np.rint(Xs * 0.65 + rng.normal(0.0, 1.0, Xs.shape)), 0, 16).astype(np.int64)
    return Xs, ys


def make_batch(kind: str, rows: int, variant: str = "clean", seed: int = 0) -> Batch:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if rows < 0:
        raise ValueError("rows must be >= 0")
    rng = np.random.default_rng(seed)
    X, y = _sample(kind, rows, variant, rng)
    labelled = kind == "labelled"
    header = ["id", *schema.FEATURES] + (["label"] if labelled else [])
    ids = [f"s{seed}-{i:07d}" for i in range(rows)]
    lines = [",".join(header)]
    fields_of = [[ids[i], *map(str, X[i])] + ([str(y[i])] if labelled else []) for i in range(rows)]

    expected: dict[str, int] = {}
    imputed = 0
    if variant == "malformed" and rows >= 2:
        kinds = [m for m in MALFORMATIONS if labelled or m != schema.BAD_LABEL]
        n_bad = min(rows - 1, max(len(kinds), rows // 10))
        bad_rows = sorted(rng.choice(np.arange(1, rows), size=n_bad, replace=False))
        broken = set(bad_rows)
        for k, i in enumerate(bad_rows):
            what = kinds[k % len(kinds)]
            f = fields_of[i]
            if what == "impute":
                for j in rng.choice(64, size=int(rng.integers(1, 4)), replace=False):
                    f[1 + j] = rng.choice(["", "NA", "nan"])
                imputed += 1
                broken.discard(i)  # kept: preprocess imputes it
                continue
            if what == schema.NON_NUMERIC:
                f[1 + int(rng.integers(64))] = "x7"
            elif what == schema.OUT_OF_RANGE:
                f[1 + int(rng.integers(64))] = str(rng.choice([17, 255, -1]))
            elif what == schema.WRONG_FIELD_COUNT:
                f.pop()
            elif what == schema.TOO_MANY_MISSING:
                for j in rng.choice(64, size=12, replace=False):
                    f[1 + j] = ""
            elif what == schema.MISSING_ID:
                f[0] = ""
            elif what == schema.DUPLICATE_ID:
                f[0] = ids[max(j for j in range(i) if j not in broken)]
            elif what == schema.BAD_LABEL:
                f[-1] = str(rng.choice(["11", "seven", "-1"]))
            expected[what] = expected.get(what, 0) + 1
    lines.extend(",".join(f) for f in fields_of)
    return Batch(("\n".join(lines) + "\n").encode(), rows, expected, imputed)


def generate_batch(kind: str, rows: int, variant: str = "clean", seed: int = 0) -> bytes:
    """The CSV bytes of one generated batch."""
    return make_batch(kind, rows, variant, seed).csv


def blob_name(kind: str, date: dt.date, name: str) -> str:
    """`<kind>/YYYY/MM/DD/<name>.csv`, the landing zone layout."""
    name = name if name.endswith(".csv") else f"{name}.csv"
    return f"{kind}/{date:%Y/%m/%d}/{name}"


def default_name(kind: str, rows: int, variant: str, seed: int) -> str:
    return f"{kind}-{variant}-{rows}-s{seed}"


def upload_batch(kind: str, rows: int, variant: str = "clean", seed: int = 0, *,
                 container: str = "landing", date: dt.date | None = None,
                 name: str | None = None, connection_string: str | None = None,
                 account_url: str | None = None, service=None, prefix: str = "",
                 make=None) -> str:
    """Generate a batch and upload it into the landing zone; returns the blob name.
    `prefix` and `make`: another feed's landing prefix and generator (`make_batch`'s
    signature), e.g. `training.diabetes.generate`'s."""
    from azure.core.exceptions import ResourceExistsError

    from training.blobs import service_client

    service = service or service_client(
        connection_string or os.environ.get("STORAGE_CONNECTION_STRING"),
        account_url or os.environ.get("STORAGE_ACCOUNT_URL"),
        os.environ.get("AZURE_CLIENT_ID"),
    )
    date = date or dt.datetime.now(dt.UTC).date()
    blob = prefix + blob_name(kind, date, name or default_name(kind, rows, variant, seed))
    client = service.get_container_client(container)
    try:
        client.create_container()
    except ResourceExistsError:
        pass
    # One Put Blob: the file appears complete or not at all.
    client.upload_blob(blob, (make or make_batch)(kind, rows, variant, seed).csv, overwrite=True)
    return blob


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.generate", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--variant", choices=VARIANTS, default="clean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--container", default=os.environ.get("LANDING_CONTAINER", "landing"))
    p.add_argument("--date", type=dt.date.fromisoformat, default=None, help="YYYY-MM-DD (default today, UTC)")
    p.add_argument("--name", default=None)
    p.add_argument("--upload", action="store_true", help="upload into the landing container")
    p.add_argument("--out", type=Path, default=None,
                   help="local file or folder (default: ./<landing layout>) when not uploading")
    p.add_argument("--storage-connection-string", default=None)
    p.add_argument("--storage-account-url", default=None)
    a = p.parse_args(argv)
    if a.rows < 0:
        p.error("--rows must be >= 0")
    if a.upload:
        blob = upload_batch(a.kind, a.rows, a.variant, a.seed, container=a.container, date=a.date,
                            name=a.name, connection_string=a.storage_connection_string,
                            account_url=a.storage_account_url)
        print(f"{a.container}/{blob}")
        return 0
    date = a.date or dt.datetime.now(dt.UTC).date()
    rel = blob_name(a.kind, date, a.name or default_name(a.kind, a.rows, a.variant, a.seed))
    out = a.out or Path(rel)
    if out.is_dir():
        out = out / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(generate_batch(a.kind, a.rows, a.variant, a.seed))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
