"""Blob storage: clients built lazily and cached per process, and the one helper for state
kept in blobs.

Clients: locally (Azurite) from `STORAGE_CONNECTION_STRING`; in Azure from
`STORAGE_ACCOUNT_URL` with the managed identity. Containers are created on first use so a
fresh account just works.

`BlobState` is how the app keeps state in a container: read JSON with its etag,
conditional create (`If-None-Match: *`) and replace (`If-Match`), a read-modify-write loop
with one bounded retry budget, and a claim-once primitive. Run records, markers, claims,
the alert store, sink health and alert deliveries all go through it; nothing else writes
its own etag loop.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache

from shared.settings import Settings

log = logging.getLogger(__name__)

# Writers that lose a race reload and try again; more conflicts than this on one blob in
# one call means something is wrong (a hot loop elsewhere), and the caller hears of it.
WRITE_ATTEMPTS = 20


class StateConflict(RuntimeError):
    """A read-modify-write kept losing to other writers past the retry budget."""


@lru_cache(maxsize=8)
def _service(conn: str | None, url: str | None, client_id: str | None):
    from azure.storage.blob import BlobServiceClient

    if conn:
        return BlobServiceClient.from_connection_string(conn)
    from shared.identity import credential

    return BlobServiceClient(url, credential=credential(client_id))


def blob_service(settings: Settings):
    return _service(settings.storage_connection_string, settings.storage_account_url,
                    settings.azure_client_id)


_ensured: set[tuple] = set()


def container(name: str, settings: Settings):
    """A `ContainerClient`, creating the container once per process if it does not exist.

    It looks first and creates only a missing one: in Azure the template creates the
    containers and the app's container-scoped roles (read-only on landing and ML data) do
    not allow creating one, so an existing container must cost a read, never a write."""
    from azure.core.exceptions import ResourceExistsError

    client = blob_service(settings).get_container_client(name)
    key = (settings.storage_connection_string, settings.storage_account_url, name)
    if key not in _ensured:
        if not client.exists():
            try:
                client.create_container()
            except ResourceExistsError:
                pass
        _ensured.add(key)
    return client


def _dumps(data) -> bytes:
    return json.dumps(data, sort_keys=True, default=str).encode()


class BlobState:
    """Conditional reads and writes of state blobs in one container (a ContainerClient)."""

    def __init__(self, container_client):
        self.container = container_client

    # --- reads ------------------------------------------------------------------------------
    def read_json(self, name: str) -> tuple[dict | None, str | None]:
        """(document, etag), or (None, None) when the blob does not exist. Raises
        ValueError when it is not JSON."""
        data, etag = self.read_bytes(name)
        return (None, None) if data is None else (json.loads(data), etag)

    def read_bytes(self, name: str) -> tuple[bytes | None, str | None]:
        """(content, etag) from one download, or (None, None) when the blob does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            dl = self.container.get_blob_client(name).download_blob()
            return dl.readall(), dl.properties.etag
        except ResourceNotFoundError:
            return None, None

    def read_text(self, name: str) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(name).readall().decode()
        except ResourceNotFoundError:
            return None

    def read_lines(self, name: str):
        """The blob's text lines, streamed chunk by chunk (flat memory however large);
        None when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self.container.download_blob(name)
        except ResourceNotFoundError:
            return None

        def lines():
            tail = b""
            for chunk in downloader.chunks():
                *complete, tail = (tail + chunk).split(b"\n")
                yield from (line.decode() for line in complete)
            if tail:
                yield tail.decode()

        return lines()

    def properties(self, name: str):
        """The blob's properties (metadata, etag), or None when it does not exist."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.get_blob_client(name).get_blob_properties()
        except ResourceNotFoundError:
            return None

    # --- conditional writes ---------------------------------------------------------------
    def create(self, name: str, body: bytes | dict, metadata: dict | None = None) -> str | None:
        """Write only if the blob does not exist: the new etag for the one caller that
        created it, None for the others."""
        from azure.core.exceptions import ResourceExistsError

        data = body if isinstance(body, bytes) else _dumps(body)
        try:
            return self.container.get_blob_client(name).upload_blob(
                data, overwrite=False, metadata=metadata)["etag"]
        except ResourceExistsError:
            return None

    def replace(self, name: str, body: bytes | dict, etag: str,
                metadata: dict | None = None) -> str | None:
        """Write only if the blob is still at `etag`: the new etag, or None when someone
        wrote first."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        data = body if isinstance(body, bytes) else _dumps(body)
        try:
            return self.container.get_blob_client(name).upload_blob(
                data, overwrite=True, metadata=metadata, etag=etag,
                match_condition=MatchConditions.IfNotModified)["etag"]
        except (ResourceModifiedError, ResourceNotFoundError):
            return None

    def write_if_unchanged(self, name: str, body: bytes | dict, etag: str | None) -> str | None:
        """Write only if the blob is as it was read: still at `etag`, or still absent when
        `etag` is None. The new etag, or None when someone wrote first."""
        return self.create(name, body) if etag is None else self.replace(name, body, etag)

    def set_metadata(self, name: str, metadata: dict) -> None:
        """Replace a blob's metadata (its content is unchanged)."""
        self.container.get_blob_client(name).set_blob_metadata(metadata)

    def put(self, name: str, body: bytes | dict, metadata: dict | None = None) -> None:
        """Unconditional write, for blobs with one writer or content fixed by their name."""
        data = body if isinstance(body, bytes) else _dumps(body)
        self.container.upload_blob(name, data, overwrite=True, metadata=metadata)

    def delete(self, name: str) -> None:
        """Delete if present (idempotent)."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.container.delete_blob(name)
        except ResourceNotFoundError:
            pass

    def delete_if_unchanged(self, name: str, etag: str) -> bool:
        """Delete only if the blob is still at `etag`: False when someone wrote since (a
        blob already gone counts as deleted)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        try:
            self.container.delete_blob(name, etag=etag,
                                       match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            return True
        except ResourceModifiedError:
            return False
        return True

    claim_once = create  # the first caller to create `name` owns what it names

    def update(self, name: str, change: Callable[[dict | None], dict | None]) -> dict | None:
        """Read-modify-write under an etag condition, retried on conflict.

        `change(current or None)` returns the new document, or None to leave the blob as it
        is; it may run more than once, so it must be a pure function of its argument. Returns
        what is stored afterwards. Raises StateConflict past WRITE_ATTEMPTS."""
        for _ in range(WRITE_ATTEMPTS):
            current, etag = self.read_json(name)
            new = change(None if current is None else dict(current))
            if new is None:
                return current
            if self.write_if_unchanged(name, new, etag):
                return new
        raise StateConflict(f"{name}: too many concurrent updates")

    def list(self, prefix: str, **kw):
        return self.container.list_blobs(name_starts_with=prefix, **kw)
