"""The raw CSV schema and the per-row decision: keep (maybe with imputed pixels) or reject
with a reason. Pure functions; the caller does the I/O.

Header: `id,p0..p63,label` (labelled) or `id,p0..p63` (unlabelled); columns are matched by
name, extra columns are ignored. Pixels are integers 0..16 ("3.0" counts as 3). Up to
MAX_IMPUTED missing pixels (empty, NA, NaN, null) per row are imputed with the reference
per-pixel median; more than that, or any non-numeric or out-of-range value, rejects the row.
"""
from __future__ import annotations

from dataclasses import dataclass

FEATURES = tuple(f"p{i}" for i in range(64))
LABEL = "label"
ID = "id"
MAX_PIXEL = 16
N_CLASSES = 10
MAX_IMPUTED = 8
MAX_ID_LENGTH = 128
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none"})

# Reasons a row is rejected (the keys of preprocess's rejectReasons).
MISSING_COLUMNS = "missing_columns"
WRONG_FIELD_COUNT = "wrong_field_count"
MISSING_ID = "missing_id"
BAD_ID = "bad_id"
DUPLICATE_ID = "duplicate_id"
NON_NUMERIC = "non_numeric"
OUT_OF_RANGE = "out_of_range"
TOO_MANY_MISSING = "too_many_missing"
BAD_LABEL = "bad_label"
MALFORMED_CSV = "malformed_csv"


@dataclass(frozen=True)
class Layout:
    """Where the columns are in one file."""

    n_fields: int
    id_at: int
    values_at: tuple[int, ...]  # the features', in the workload's order
    label_at: int | None
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    reason: str
    detail: str


@dataclass(frozen=True)
class Row:
    """A kept row: the features' values (the digits' pixels) and the label if labelled."""

    id: str
    values: list
    label: int | float | None
    imputed: int = 0

    @property
    def pixels(self) -> list[int]:
        return self.values


def layout_for(header: list[str], kind: str, features: tuple[str, ...] = FEATURES,
               label: str = LABEL) -> Layout | Reject:
    """Columns by name (`features`, and `label` when labelled); another workload passes its
    own names."""
    names = [h.strip().lower() for h in header]
    required = (ID, *features) + ((label,) if kind == "labelled" else ())
    missing = [c for c in required if c not in names]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        return Reject(MISSING_COLUMNS, f"header lacks {len(missing)} column(s): {shown}")
    pos = {n: i for i, n in reversed(list(enumerate(names)))}  # first occurrence wins
    wanted = set(required) | ({label} if kind == "labelled" else set())
    return Layout(
        n_fields=len(names),
        id_at=pos[ID],
        values_at=tuple(pos[f] for f in features),
        label_at=pos[label] if kind == "labelled" else None,
        ignored=tuple(n for n in names if n not in wanted),
    )


def _pixel(text: str) -> int | None | Reject:
    """An int 0..16, None if missing, or a Reject."""
    t = text.strip()
    if t.lower() in MISSING:
        return None
    try:
        v = int(t)
    except ValueError:
        try:
            f = float(t)
        except ValueError:
            return Reject(NON_NUMERIC, f"{t[:20]!r} is not a number")
        if f != f or not f.is_integer():  # NaN handled above; 3.5 is not a pixel value
            return Reject(NON_NUMERIC, f"{t[:20]!r} is not an integer")
        v = int(f)
    if not 0 <= v <= MAX_PIXEL:
        return Reject(OUT_OF_RANGE, f"{v} is outside 0..{MAX_PIXEL}")
    return v


def row_id(fields: list[str], layout: Layout) -> str | Reject:
    """The row's id once its field count is right, or why the row is rejected (every
    workload's first rules)."""
    if len(fields) != layout.n_fields:
        return Reject(WRONG_FIELD_COUNT, f"{len(fields)} fields, header has {layout.n_fields}")
    rid = fields[layout.id_at].strip()
    if not rid:
        return Reject(MISSING_ID, "empty id")
    if len(rid) > MAX_ID_LENGTH or any(ord(c) < 32 for c in rid):
        return Reject(BAD_ID, f"id must be 1..{MAX_ID_LENGTH} printable characters")
    return rid


def check_row(fields: list[str], layout: Layout, medians: tuple[int, ...] | None) -> Row | Reject:
    """Decide one data row. `medians` (64 ints) fill missing pixels; duplicate ids are the
    caller's business (they need the rest of the file)."""
    rid = row_id(fields, layout)
    if isinstance(rid, Reject):
        return rid
    raw = [fields[i] for i in layout.values_at]
    try:  # fast path: every pixel a plain integer in range
        pixels = [int(v) for v in raw]
        clean = min(pixels) >= 0 and max(pixels) <= MAX_PIXEL
    except ValueError:
        clean = False
    if clean:
        label = _label(fields, layout)
        return label if isinstance(label, Reject) else Row(rid, pixels, label, 0)
    pixels, missing = [], []
    for i, text in enumerate(raw):
        v = _pixel(text)
        if isinstance(v, Reject):
            return Reject(v.reason, f"{FEATURES[i]}: {v.detail}")
        if v is None:
            missing.append(i)
            v = 0
        pixels.append(v)
    if len(missing) > MAX_IMPUTED:
        return Reject(TOO_MANY_MISSING, f"{len(missing)} missing pixels (at most {MAX_IMPUTED} imputed)")
    if missing:
        if medians is None:
            raise ValueError("medians are needed to impute missing pixels")
        for i in missing:
            pixels[i] = medians[i]
    label = _label(fields, layout)
    if isinstance(label, Reject):
        return label
    return Row(rid, pixels, label, len(missing))


def _label(fields: list[str], layout: Layout) -> int | None | Reject:
    if layout.label_at is None:
        return None
    t = fields[layout.label_at].strip()
    try:
        f = float(t)
        v = int(f)
        if f != v:
            raise ValueError
    except (ValueError, OverflowError):
        return Reject(BAD_LABEL, f"label {t[:20]!r} is not an integer")
    if not 0 <= v < N_CLASSES:
        return Reject(BAD_LABEL, f"label {v} is outside 0..{N_CLASSES - 1}")
    return v
