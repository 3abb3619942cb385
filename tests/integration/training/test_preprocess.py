"""preprocess for real against Azurite: malformed rows are quarantined with reasons, the
rest curated, the landing zone left as it was."""
from __future__ import annotations

import csv
import io

import numpy as np

from shared.checks.contract import problems
from shared.checks.profile import DATA
from training.curated import iter_shards, read_manifest
from training.generate import make_batch


def test_malformed_rows_are_quarantined_with_reasons_and_the_rest_curated(ml_env):
    bad = make_batch("labelled", 300, "malformed", seed=5)
    clean = make_batch("labelled", 120, "clean", seed=6)
    no_label = b"id," + ",".join(f"p{i}" for i in range(64)).encode() + b"\nx1," + b"0," * 63 + b"0\n"
    names = {"labelled/2026/01/02/bad.csv": bad.csv, "labelled/2026/01/02/clean.csv": clean.csv,
             "labelled/2026/01/02/nolabel.csv": no_label}
    for name, data in names.items():
        ml_env.store.write_bytes(ml_env.landing, name, data)
    etags = {n: ml_env.store.blob(ml_env.landing, n).get_blob_properties().etag for n in names}
    path = ml_env.manifest("b-pre", "labelled", list(names))

    res = ml_env.run("preprocess", batchId="b-pre", manifestPath=path)

    assert res.code == 0, res.stderr
    out = res.outputs
    expected = dict(bad.expected_rejects)
    expected["missing_columns"] = 1
    assert out["rejectReasons"] == expected
    assert out["rowsIn"] == 300 + 120 + 1
    assert out["rowsRejected"] == sum(expected.values())
    assert out["rowsOut"] == bad.expected_kept + 120
    assert out["rowsImputed"] == bad.imputed_rows > 0
    assert out["files"] == 3 and out["kind"] == "labelled"
    assert out["bytesIn"] == sum(len(d) for d in names.values())
    assert sum(out["classCounts"].values()) == out["rowsOut"]
    stats = out["featureStats"]
    assert stats["bins"] == list(range(18)) and len(stats["features"]) == 64
    assert all(sum(f["counts"]) == out["rowsOut"] for f in stats["features"].values())
    assert out["curatedPath"] == f"{ml_env.ml}/curated/b-pre/"
    assert out["quarantinePath"] == f"{ml_env.ml}/quarantine/b-pre/rejected.csv"
    assert problems(out, DATA) == []  # the contract's data output (contract/data.schema.json)

    # every rejected row is in quarantine with its reason, source file and original text
    text = ml_env.store.read_bytes(ml_env.ml, "quarantine/b-pre/rejected.csv").decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == out["rowsRejected"]
    by_reason: dict[str, int] = {}
    for r in rows:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
        assert r["source_file"] in names and r["detail"]
        assert r["row"].encode() in names[r["source_file"]]  # the original row, verbatim
    assert by_reason == expected

    # curated data: the kept rows, typed, with labels; no rejected id among them
    manifest = read_manifest(ml_env.store, ml_env.ml, "b-pre")
    shards = list(iter_shards(ml_env.store, ml_env.ml, manifest))
    ids = np.concatenate([s.ids for s in shards])
    X = np.concatenate([s.X for s in shards])
    assert len(ids) == manifest["rows"] == out["rowsOut"]
    assert X.shape == (out["rowsOut"], 64) and X.max() <= 16
    assert all(s.y is not None and s.y.max() <= 9 for s in shards)
    rejected_dupes = [r for r in rows if r["reason"] == "duplicate_id"]
    assert all(r["row"].split(",")[0] in set(ids) for r in rejected_dupes)  # first copy kept

    # the landing zone is untouched
    for name in names:
        assert ml_env.store.blob(ml_env.landing, name).get_blob_properties().etag == etags[name]


def test_unlabelled_batch_and_clear_errors(ml_env):
    batch = make_batch("unlabelled", 200, "malformed", seed=8)
    ml_env.store.write_bytes(ml_env.landing, "unlabelled/2026/01/02/u.csv", batch.csv)
    path = ml_env.manifest("b-unl", "unlabelled", ["unlabelled/2026/01/02/u.csv"])

    res = ml_env.run("preprocess", batchId="b-unl", manifestPath=path)
    assert res.code == 0, res.stderr
    assert res.outputs["kind"] == "unlabelled" and "classCounts" not in res.outputs
    assert res.outputs["rejectReasons"] == batch.expected_rejects
    assert "bad_label" not in res.outputs["rejectReasons"]
    assert res.outputs["rowsOut"] == batch.expected_kept

    missing = ml_env.run("preprocess", batchId="b-x", manifestPath=f"{ml_env.state}/manifests/nope.json")
    assert missing.code == 2 and "does not exist" in missing.stderr and missing.outputs is None
    no_batch = ml_env.run("preprocess", manifestPath=path)
    assert no_batch.code == 2 and "batchId" in no_batch.stderr
