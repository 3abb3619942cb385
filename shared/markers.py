"""High-water marks in STATE_CONTAINER (`markers/<name>`): the newest time something
happened (data landed, predictions written). Only ever moved forward, under an etag
condition (`BlobState.update`), so concurrent writers cannot move one back.

Written by landing (newest data per kind) and runs (newest predictions), read by
monitoring: a base module beside `storage` rather than inside one of them."""
from __future__ import annotations

from datetime import datetime

PREFIX = "markers/"


def newest_data(kind: str, feed: str = "") -> str:
    """Newest data of a kind; `feed`: the feed's tag ("" for the default feed)."""
    return f"newest-data-{feed + '-' if feed else ''}{kind}"


NEWEST_PREDICTIONS = "newest-predictions"


def newest_predictions(feed: str = "") -> str:
    return f"{NEWEST_PREDICTIONS}-{feed}" if feed else NEWEST_PREDICTIONS


def raise_marker(state, name: str, at: datetime) -> None:
    """Move marker `name` forward to `at` (a no-op when it is already there or later).
    `state` is a `BlobState`."""
    def later(current: dict | None) -> dict | None:
        if current and datetime.fromisoformat(current["at"]) >= at:
            return None
        return {"at": at.isoformat()}

    state.update(PREFIX + name, later)


def read_marker(state, name: str) -> str | None:
    data, _ = state.read_json(PREFIX + name)
    return data["at"] if data else None
