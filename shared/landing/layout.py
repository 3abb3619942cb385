"""The landing zone's layout and the pure decisions about its files.

Raw data lands in LANDING_CONTAINER under date-partitioned prefixes, one per kind:

    labelled/YYYY/MM/DD/<name>.csv     labelled training data (id, p0..p63, label)
    unlabelled/YYYY/MM/DD/<name>.csv   data to score          (id, p0..p63)

A feed other than the default (`shared.feeds`) has the same layout under its landing prefix,
with the kinds it declares: `<prefix><kind>/YYYY/MM/DD/<name>`; the functions here take the
prefix and kinds (default: the digits feed's, no prefix). Anything else in the container is
ignored (with a log line by the caller). Names whose last
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

_PATH = re.compile(r"(?P<kind>[a-z0-9][a-z0-9-]*)/(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/(?P<d>[0-9]{2})/"
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


def check_landing_name(name: str, prefix: str = "", kinds=KINDS) -> str:
    """The kind of a landing blob name (`<prefix><kind>/YYYY/MM/DD/<file>`, default: the
    digits feed's layout); NameOutsideLayout naming the rule it breaks."""
    if not isinstance(name, str) or not name:
        raise NameOutsideLayout("name: must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise NameOutsideLayout(f"name: {len(name)} characters; at most {MAX_NAME_LENGTH}")
    why = _unsafe(name, "name")
    if why:
        raise NameOutsideLayout(why)
    m = _PATH.fullmatch(name[len(prefix):]) if name.startswith(prefix) else None
    if not m or m["kind"] not in kinds:
        raise NameOutsideLayout(f"name: expected {prefix}{{{'|'.join(kinds)}}}/YYYY/MM/DD/<file>")
    try:
        date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        raise NameOutsideLayout(f"name: {m['y']}/{m['m']}/{m['d']} is not a date") from None
    return m["kind"]


def kind_of(name: str, prefix: str = "", kinds=KINDS) -> str | None:
    """The kind of a landing blob name, or None when it is outside the layout."""
    try:
        return check_landing_name(name, prefix, kinds)
    except NameOutsideLayout:
        return None


_PREFIX = re.compile(r"(?P<kind>[a-z0-9][a-z0-9-]*)/([0-9]{4}/([0-9]{2}/([0-9]{2}/.*)?)?)?",
                     re.ASCII | re.DOTALL)


def check_prefix(prefix: str, feed_prefix: str = "", kinds=KINDS) -> str:
    """A listing prefix inside the layout (`labelled/`, `labelled/2026/`, ... down to a
    day's partition and below, under a feed's `feed_prefix`); NameOutsideLayout naming the
    rule it breaks."""
    if not prefix or len(prefix) > MAX_NAME_LENGTH:
        raise NameOutsideLayout(f"prefix: 1 to {MAX_NAME_LENGTH} characters")
    why = _unsafe(prefix, "prefix")
    if why:
        raise NameOutsideLayout(why)
    m = _PREFIX.fullmatch(prefix[len(feed_prefix):]) if prefix.startswith(feed_prefix) else None
    if not m or m["kind"] not in kinds:
        raise NameOutsideLayout(f"prefix: expected {feed_prefix}{{{'|'.join(kinds)}}}/"
                                "[YYYY/[MM/[DD/...]]] (whole segments, ending with /)")
    return prefix


def is_temporary(name: str) -> bool:
    last = name.rsplit("/", 1)[-1]
    return last.startswith(("_", ".")) or last.lower().endswith(TEMP_SUFFIXES)


def partition_prefix(kind: str, day: date, prefix: str = "") -> str:
    return f"{prefix}{kind}/{day:%Y/%m/%d}/"


def recent_prefixes(now: datetime, lookback_days: int, kinds=KINDS, prefix: str = "") -> list[str]:
    """The partitions a sweep scans: today and `lookback_days` before it, per kind (under a
    feed's landing `prefix`)."""
    today = now.date()
    return [partition_prefix(k, today - timedelta(days=i), prefix)
            for k in kinds for i in range(lookback_days + 1)]


def ready(f: LandingFile, now: datetime, quiet_seconds: float) -> bool:
    """A file is ready to claim when it is non-empty, not temporary and has settled."""
    return (f.size > 0 and not is_temporary(f.name)
            and (now - f.last_modified).total_seconds() >= quiet_seconds)


def batch_id(kind: str, files: list[LandingFile] | list[dict], feed: str = "") -> str:
    """Deterministic id of a batch: the same files (name and etag) give the same id;
    `<kind>-<20 hex>`, or `<feed>-<kind>-<20 hex>` for a feed other than the default."""
    keys = sorted(
        (f["name"], f["etag"]) if isinstance(f, dict) else (f.name, f.etag) for f in files
    )
    digest = hashlib.sha256("\n".join(f"{n}|{e}" for n, e in keys).encode()).hexdigest()
    return f"{feed + '-' if feed else ''}{kind}-{digest[:20]}"


def chunk(files: list, size: int, key=lambda f: f.name) -> list[list]:
    """Split files (sorted by name, so chunks are stable) into batches of at most `size`."""
    ordered = sorted(files, key=key)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]
