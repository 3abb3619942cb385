"""Pure parsing of Event Grid BlobCreated events for the landing container."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from shared.landing.layout import kind_of

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


@dataclass(frozen=True)
class LandedBlob:
    container: str
    name: str
    kind: str
    size: int | None
    feed: str | None = None  # None: the default feed


class IgnoredEvent(ValueError):
    """Acknowledge and ignore: the reason is logged, nothing else happens."""


def parse_blob_created(event_type: str, subject: str, data: dict | None,
                       landing_container: str, locate=None) -> LandedBlob:
    """The landed blob an event announces, or IgnoredEvent saying why it is not ours.
    `locate(name)`: (feed name, kind) of a landing name or None (`Feeds.locate`); default:
    the default feed's layout."""
    if event_type != BLOB_CREATED:
        raise IgnoredEvent(f"event type {event_type!r} is not {BLOB_CREATED}")
    marker = "/containers/"
    if not subject or marker not in subject or "/blobs/" not in subject:
        raise IgnoredEvent(f"subject {subject!r} does not name a blob")
    container, _, name = subject.split(marker, 1)[1].partition("/blobs/")
    name = unquote(name)
    if container != landing_container:
        raise IgnoredEvent(f"container {container!r} is not the landing container")
    found = locate(name) if locate else (None, kind_of(name))
    if found is None or found[1] is None:
        raise IgnoredEvent(f"blob {name!r} is outside the landing layout")
    feed, kind = found
    size = (data or {}).get("contentLength")
    if size is not None and not isinstance(size, int):
        raise IgnoredEvent(f"blob {name!r}: data.contentLength {size!r} is not an integer")
    if size == 0:
        raise IgnoredEvent(f"blob {name!r} is empty")
    return LandedBlob(container, name, kind, size, feed)
