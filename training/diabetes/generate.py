"""Raw diabetes batches for the landing zone: `diabetes/<kind>/YYYY/MM/DD/<name>.csv`.

`python -m training.diabetes.generate --kind labelled|unlabelled --rows N
    --variant clean|malformed|drifted --seed S [--date YYYY-MM-DD] [--out PATH | --upload]`

- clean: patients drawn with replacement from the dataset (labelled ones only from
  `data.labelled_pool()`, so `data.reserved_holdout()` stays unseen), in original units.
- malformed: the same with about 10% of rows broken (non-numeric, out of range, a missing
  value, wrong field count, missing or duplicate id, a bad target).
- drifted: an older, heavier population with higher blood pressure and triglycerides (age
  +12 years, BMI x1.15, BP +10, s5 +0.35), as from a different clinic; predictions shift up.
A pure function of (kind, rows, variant, seed).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

import numpy as np

from training import schema
from training.diabetes import data
from training.generate import Batch, blob_name

PREFIX = "diabetes"  # the feed's landing prefix
VARIANTS = ("clean", "malformed", "drifted")
MALFORMATIONS = (schema.NON_NUMERIC, schema.OUT_OF_RANGE, data.MISSING_VALUE,
                 schema.WRONG_FIELD_COUNT, schema.MISSING_ID, schema.DUPLICATE_ID, data.BAD_TARGET)
DRIFT = {"age": 12.0, "bp": 10.0, "s5": 0.35}  # added
DRIFT_FACTOR = {"bmi": 1.15}


def _format(j: int, v: float) -> str:
    return str(int(round(v))) if data.FEATURES[j] in ("age", "sex") else f"{v:.4g}"


def make_batch(kind: str, rows: int, variant: str = "clean", seed: int = 0) -> Batch:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    rng = np.random.default_rng(seed)
    X, y = data.labelled_pool() if kind == "labelled" else data.load()
    idx = rng.choice(len(y), size=rows, replace=True)
    X, y = X[idx].copy(), y[idx]
    if variant == "drifted":
        for name, shift in DRIFT.items():
            X[:, data.FEATURES.index(name)] += shift
        for name, factor in DRIFT_FACTOR.items():
            X[:, data.FEATURES.index(name)] *= factor
    labelled = kind == "labelled"
    ids = [f"d{seed}-{i:06d}" for i in range(rows)]
    fields = [[ids[i], *(_format(j, v) for j, v in enumerate(X[i]))]
              + ([str(int(y[i]))] if labelled else []) for i in range(rows)]
    expected: dict[str, int] = {}
    if variant == "malformed" and rows >= 2:
        kinds = [m for m in MALFORMATIONS if labelled or m != data.BAD_TARGET]
        bad = sorted(rng.choice(np.arange(1, rows), size=min(rows - 1, max(len(kinds), rows // 10)),
                                replace=False))
        for k, i in enumerate(bad):
            what, f = kinds[k % len(kinds)], fields[i]
            if what == schema.NON_NUMERIC:
                f[3] = "high"
            elif what == schema.OUT_OF_RANGE:
                f[1] = "250"
            elif what == data.MISSING_VALUE:
                f[5] = "NA"
            elif what == schema.WRONG_FIELD_COUNT:
                f.pop()
            elif what == schema.MISSING_ID:
                f[0] = ""
            elif what == schema.DUPLICATE_ID:
                f[0] = ids[max(j for j in range(i) if j not in set(bad))]
            else:  # bad target
                f[-1] = "-40"
            expected[what] = expected.get(what, 0) + 1
    header = ["id", *data.FEATURES] + (["target"] if labelled else [])
    lines = [",".join(header)] + [",".join(f) for f in fields]
    return Batch(("\n".join(lines) + "\n").encode(), rows, expected)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.diabetes.generate",
                                description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=("labelled", "unlabelled"), required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--variant", choices=VARIANTS, default="clean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--date", type=dt.date.fromisoformat, default=None)
    p.add_argument("--container", default=os.environ.get("LANDING_CONTAINER", "landing"))
    p.add_argument("--upload", action="store_true", help="upload into the landing container")
    p.add_argument("--out", type=Path, default=None, help="local file (default: the layout)")
    a = p.parse_args(argv)
    if a.rows < 0:
        p.error("--rows must be >= 0")
    date = a.date or dt.datetime.now(dt.UTC).date()
    name = f"{PREFIX}/" + blob_name(a.kind, date, f"{a.kind}-{a.variant}-{a.rows}-s{a.seed}")
    body = make_batch(a.kind, a.rows, a.variant, a.seed).csv
    if a.upload:
        from training.blobs import service_client

        service = service_client(os.environ.get("STORAGE_CONNECTION_STRING"),
                                 os.environ.get("STORAGE_ACCOUNT_URL"))
        service.get_container_client(a.container).upload_blob(name, body, overwrite=True)
        print(f"{a.container}/{name}")
        return 0
    out = a.out or Path(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
