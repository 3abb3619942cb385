"""The landing zone's layout and the pure decisions about its files.

Raw data lands in LANDING_CONTAINER under date-partitioned prefixes, one per kind:

    labelled/YYYY/MM/DD/<name>.csv     labelled training data (id, p0..p63, label)
    unlabelled/YYYY/MM/DD/<name>.csv   data to score          (id, p0..p63)

Anything else in the container is ignored (with a log line by the caller). Names whose last
segment starts with `_` or `.` or that end in a temporary suffix are uploads in progress.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

KINDS = ("labelled", "unlabelled")
MODE_BY_KIND = {"labelled": "train-and-score", "unlabelled": "score"}
TEMP_SUFFIXES = (".tmp", ".partial", ".crdownload", ".part", ".filepart", ".uploading")

_PATH = re.compile(r"^(?P<kind>labelled|unlabelled)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<rest>.+)$")


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


def kind_of(name: str) -> str | None:
    """The kind of a landing blob name, or None when it is outside the layout."""
    m = _PATH.match(name)
    if not m:
        return None
    try:
        date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None
    return m["kind"]


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


def chunk(files: list[LandingFile], size: int) -> list[list[LandingFile]]:
    """Split files (sorted by name, so chunks are stable) into batches of at most `size`."""
    ordered = sorted(files, key=lambda f: f.name)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]
