"""The per-row decision of preprocess: keep, impute or reject with a reason."""
from __future__ import annotations

import pytest

from training import schema

HEADER = ["id", *schema.FEATURES, "label"]
LAYOUT = schema.layout_for(HEADER, "labelled")
MEDIANS = tuple(range(64))


def row(pixels=None, rid="a1", label="3"):
    pixels = pixels if pixels is not None else ["1"] * 64
    return [rid, *pixels, label]


def test_a_clean_row_is_kept():
    r = schema.check_row(row(), LAYOUT, MEDIANS)
    assert r == schema.Row("a1", [1] * 64, 3, 0)


def test_columns_are_matched_by_name_and_extras_ignored():
    header = ["label", "note", *reversed(schema.FEATURES), "id"]
    layout = schema.layout_for(header, "labelled")
    assert layout.ignored == ("note",)
    fields = ["7", "hello", *[str(16 - (i % 17)) for i in range(64)], "zz"]
    r = schema.check_row(fields, layout, MEDIANS)
    assert r.id == "zz" and r.label == 7 and r.pixels[63] == 16  # p63 is the first pixel column


def test_missing_columns_reject_the_file():
    bad = schema.layout_for(["id", *schema.FEATURES], "labelled")
    assert isinstance(bad, schema.Reject) and bad.reason == schema.MISSING_COLUMNS
    assert "label" in bad.detail
    assert isinstance(schema.layout_for(["id", *schema.FEATURES], "unlabelled"), schema.Layout)


def test_a_few_missing_pixels_are_imputed_with_the_reference_median():
    pixels = ["1"] * 64
    pixels[5], pixels[9] = "", "NaN"
    r = schema.check_row(row(pixels), LAYOUT, MEDIANS)
    assert r.imputed == 2 and r.pixels[5] == 5 and r.pixels[9] == 9 and r.pixels[0] == 1


def test_integral_floats_count_as_integers():
    pixels = ["3.0"] + ["1"] * 63
    assert schema.check_row(row(pixels, label="4.0"), LAYOUT, MEDIANS).pixels[0] == 3


@pytest.mark.parametrize("fields,reason", [
    (row()[:-1], schema.WRONG_FIELD_COUNT),
    (row(rid=" "), schema.MISSING_ID),
    (row(rid="a\tb"), schema.BAD_ID),
    (row(["x"] + ["1"] * 63), schema.NON_NUMERIC),
    (row(["2.5"] + ["1"] * 63), schema.NON_NUMERIC),
    (row(["17"] + ["1"] * 63), schema.OUT_OF_RANGE),
    (row(["-1"] + ["1"] * 63), schema.OUT_OF_RANGE),
    (row([""] * 9 + ["1"] * 55), schema.TOO_MANY_MISSING),
    (row(label="10"), schema.BAD_LABEL),
    (row(label="seven"), schema.BAD_LABEL),
    (row(label=""), schema.BAD_LABEL),
])
def test_bad_rows_are_rejected_with_a_reason(fields, reason):
    r = schema.check_row(fields, LAYOUT, MEDIANS)
    assert isinstance(r, schema.Reject) and r.reason == reason and r.detail


def test_the_offending_pixel_is_named():
    r = schema.check_row(row(["1"] * 10 + ["99"] + ["1"] * 53), LAYOUT, MEDIANS)
    assert r.detail.startswith("p10:")
