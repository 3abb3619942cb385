"""High-water marks in STATE_CONTAINER (`markers/<name>`): the newest time something
happened (data landed, predictions written). Only ever moved forward, with an etag
condition, so concurrent writers cannot move one back."""
from __future__ import annotations

from datetime import datetime

PREFIX = "markers/"


def raise_marker(state, name: str, at: datetime, attempts: int = 10) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import (
        ResourceExistsError,
        ResourceModifiedError,
        ResourceNotFoundError,
    )

    blob = state.get_blob_client(PREFIX + name)
    for _ in range(attempts):
        try:
            dl = blob.download_blob()
            current, etag = datetime.fromisoformat(dl.readall().decode()), dl.properties.etag
        except ResourceNotFoundError:
            current, etag = None, None
        if current is not None and current >= at:
            return
        try:
            if etag is None:
                blob.upload_blob(at.isoformat().encode(), overwrite=False)
            else:
                blob.upload_blob(at.isoformat().encode(), overwrite=True, etag=etag,
                                 match_condition=MatchConditions.IfNotModified)
            return
        except (ResourceExistsError, ResourceModifiedError):
            continue


def read_marker(state, name: str) -> str | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return state.download_blob(PREFIX + name).readall().decode()
    except ResourceNotFoundError:
        return None
