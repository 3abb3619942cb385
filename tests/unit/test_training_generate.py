"""The batch generator: deterministic per seed, the landing-zone layout, the variants."""
from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np

from training import digits
from training.generate import blob_name, generate_batch, main, make_batch


def _rows(data: bytes):
    return list(csv.reader(io.StringIO(data.decode())))


def test_same_seed_same_bytes_other_seed_other_bytes():
    assert generate_batch("labelled", 50, "clean", 1) == generate_batch("labelled", 50, "clean", 1)
    assert generate_batch("labelled", 50, "clean", 1) != generate_batch("labelled", 50, "clean", 2)


def test_clean_labelled_rows_come_from_the_pool_not_the_reserved_holdout():
    rows = _rows(generate_batch("labelled", 300, "clean", 3))
    assert rows[0] == ["id", *[f"p{i}" for i in range(64)], "label"] and len(rows) == 301
    X = np.array([[int(v) for v in r[1:65]] for r in rows[1:]])
    pool = {tuple(x) for x in digits.labelled_pool()[0]}
    assert all(tuple(x) in pool for x in X)
    assert len({r[0] for r in rows[1:]}) == 300  # unique ids


def test_the_reserved_holdout_and_the_pool_do_not_overlap():
    pool_x, _ = digits.labelled_pool()
    hold_x, hold_y = digits.reserved_holdout()
    assert len(pool_x) + len(hold_x) == 1797 and len(hold_x) > 300
    assert np.bincount(hold_y).min() >= 30  # every class is represented


def test_unlabelled_has_no_label_column():
    rows = _rows(generate_batch("unlabelled", 10, "clean", 0))
    assert rows[0][-1] == "p63" and all(len(r) == 65 for r in rows)


def test_drifted_shifts_classes_and_intensities():
    clean, drifted = _rows(generate_batch("labelled", 2000, "clean", 4)), _rows(generate_batch("labelled", 2000, "drifted", 4))
    share = lambda rows: np.mean([int(r[-1]) <= 2 for r in rows[1:]])  # noqa: E731
    mean = lambda rows: np.mean([[int(v) for v in r[1:65]] for r in rows[1:]])  # noqa: E731
    assert share(clean) < 0.4 < 0.5 < share(drifted)
    assert mean(drifted) < 0.8 * mean(clean)


def test_malformed_reports_what_preprocess_should_find():
    b = make_batch("labelled", 500, "malformed", 9)
    assert set(b.expected_rejects) == {"non_numeric", "out_of_range", "wrong_field_count",
                                       "too_many_missing", "missing_id", "duplicate_id", "bad_label"}
    assert b.imputed_rows > 0 and b.expected_kept == 500 - sum(b.expected_rejects.values())
    assert b"x7" in b.csv


def test_cli_writes_the_landing_layout_locally(tmp_path, capsys):
    assert blob_name("labelled", dt.date(2026, 3, 4), "x") == "labelled/2026/03/04/x.csv"
    assert main(["--kind", "unlabelled", "--rows", "5", "--seed", "2", "--date", "2026-03-04",
                 "--name", "demo", "--out", str(tmp_path)]) == 0
    out = tmp_path / "unlabelled/2026/03/04/demo.csv"
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes() == generate_batch("unlabelled", 5, "clean", 2)
