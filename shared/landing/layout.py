"""The landing zone's layout and the pure decisions about its files.

Raw data lands in LANDING_CONTAINER under date-partitioned prefixes, one per kind:

    labelled/YYYY/MM/DD/<name>.csv     labelled training data (id, p0..p63, label)
    unlabelled/YYYY/MM/DD/<name>.csv   data to score          (id, p0..p63)

Anything else in the container is ignored (with a log line by the caller). Names whose last
segment starts with `_` or `.` or that end in a temporary suffix are uploads in progress.

A name is in the layout only if it fully matches it: ASCII digits forming a real date, no
empty, `.` or `..` segment anywhere (the HTTP layer would normalise those away and reach
another container), no backslash or control character, and short enough that its claim
(`claims/<name>@<etag>`) stays under Azure's 1,024-character blob name limit.
`check_landing_name` says which rule a name breaks; every way in (API files and prefixes,
events, listings) goes through it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shared.errors import BadRequest

KINDS = ("labelled", "unlabelled")
MODE_BY_KIND = {"labelled": "train-and-score", "unlabelled": "score"}
TEMP_SUFFIXES = (".tmp", ".partial", ".crdownload", ".part", ".filepart", ".uploading")

_PATH = re.compile(r"(?P<kind>labelled|unlabelled)/(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/"
                   r"(?P<rest>.+)", re.ASCII | re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BLOB_NAME_MAX = 1024
# Room for "claims/" and "@<etag>" (an Azure etag is 18 characters; 64 leaves a margin).
MAX_NAME_LENGTH = BLOB_NAME_MAX - len("claims/") - 64


class NameOutsideLayout(BadRequest):
    error = "name outside the landing layout"


@dataclass(frozen=True)
class LandingFile:
    """A blob in the landing zone, as listed."""

    name: str
    size: int
    etag: str
    last_modified: datetime

    def as_manifest_entry(self) -> dict:
        return {"name": self.name, "size": self.size, "etag": self.etag,
                "lastModified": self.last_modified.isoformat()}


def _unsafe(text: str, what: str) -> str | None:
    """Why `text` (a name or prefix) is unsafe to use as a blob path, or None."""
    if "\\" in text:
        return f"{what} contains a backslash"
    if _CONTROL.search(text):
        return f"{what} contains a control character"
    segments = text.split("/")
    inner = segments[:-1] if what == "prefix" else segments  # a prefix may end with "/"
    if any(seg in ("", ".", "..") for seg in inner):
        return f"{what} has an empty, '.' or '..' segment"
    return None


def check_landing_name(name: str) -> str:
    """The kind of a landing blob name; NameOutsideLayout naming the rule it breaks."""
    if not isinstance(name, str) or not name:
        raise NameOutsideLayout("name: must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise NameOutsideLayout(f"name: {len(name)} characters; at most {MAX_NAME_LENGTH}")
    why = _unsafe(name, "name")
    if why:
        raise NameOutsideLayout(why)
    m = _PATH.fullmatch(name)
    if not m:
        raise NameOutsideLayout("name: expected {labelled|unlabelled}/YYYY/MM/DD/<file>")
    try:
        date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        raise NameOutsideLayout(f"name: {m['y']}/{m['m']}/{m['d']} is not a date") from None
    return m["kind"]


def kind_of(name: str) -> str | None:
    """The kind of a landing blob name, or None when it is outside the layout."""
    try:
        return check_landing_name(name)
    except NameOutsideLayout:
        return None


_PREFIX = re.compile(r"(labelled|unlabelled)/([0-9]{4}/([0-9]{2}/([0-9]{2}/.*)?)?)?",
                     re.ASCII | re.DOTALL)


def check_prefix(prefix: str) -> str:
    """A listing prefix inside the layout (`labelled/`, `labelled/2026/`, ... down to a
    day's partition and below); NameOutsideLayout naming the rule it breaks."""
    if not prefix or len(prefix) > MAX_NAME_LENGTH:
        raise NameOutsideLayout(f"prefix: 1 to {MAX_NAME_LENGTH} characters")
    why = _unsafe(prefix, "prefix")
    if why:
        raise NameOutsideLayout(why)
    if not _PREFIX.fullmatch(prefix):
        raise NameOutsideLayout("prefix: expected {labelled|unlabelled}/[YYYY/[MM/[DD/...]]] "
                                "(whole segments, ending with /)")
    return prefix


def is_temporary(name: str) -> bool:
    last = name.rsplit("/", 1)[-1]
    return last.startswith(("_", ".")) or last.lower().endswith(TEMP_SUFFIXES)


def partition_prefix(kind: str, day: date) -> str:
    return f"{kind}/{day:%Y/%m/%d}/"


def recent_prefixes(now: datetime, lookback_days: int, kinds=KINDS) -> list[str]:
    """The partitions a sweep scans: today and `lookback_days` before it, per kind."""
    today = now.date()
    return [partition_prefix(k, today - timedelta(days=i))
            for k in kinds for i in range(lookback_days + 1)]


def ready(f: LandingFile, now: datetime, quiet_seconds: float) -> bool:
    """A file is ready to claim when it is non-empty, not temporary and has settled."""
    return (f.size > 0 and not is_temporary(f.name)
            and (now - f.last_modified).total_seconds() >= quiet_seconds)


def batch_id(kind: str, files: list[LandingFile] | list[dict]) -> str:
    """Deterministic id of a batch: the same files (name and etag) give the same id."""
    keys = sorted(
        (f["name"], f["etag"]) if isinstance(f, dict) else (f.name, f.etag) for f in files
    )
    digest = hashlib.sha256("\n".join(f"{n}|{e}" for n, e in keys).encode()).hexdigest()
    return f"{kind}-{digest[:20]}"


def chunk(files: list, size: int, key=lambda f: f.name) -> list[list]:
    """Split files (sorted by name, so chunks are stable) into batches of at most `size`."""
    ordered = sorted(files, key=key)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]
