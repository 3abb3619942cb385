"""Blob clients, built lazily and cached per process.

Locally (Azurite) from `STORAGE_CONNECTION_STRING`; in Azure from `STORAGE_ACCOUNT_URL` with
the managed identity. Containers are created on first use so a fresh account just works.
"""
from __future__ import annotations

from functools import lru_cache

from shared.settings import Settings, get_settings


@lru_cache(maxsize=8)
def _service(conn: str | None, url: str | None, client_id: str | None):
    from azure.storage.blob import BlobServiceClient

    if conn:
        return BlobServiceClient.from_connection_string(conn)
    from shared.identity import credential

    return BlobServiceClient(url, credential=credential(client_id))


def blob_service(settings: Settings | None = None):
    s = settings or get_settings()
    return _service(s.storage_connection_string, s.storage_account_url, s.azure_client_id)


_ensured: set[tuple[int, str]] = set()


def container(name: str, settings: Settings | None = None):
    """A `ContainerClient`, creating the container once per process if it does not exist."""
    from azure.core.exceptions import ResourceExistsError

    svc = blob_service(settings)
    client = svc.get_container_client(name)
    key = (id(svc), name)
    if key not in _ensured:
        try:
            client.create_container()
        except ResourceExistsError:
            pass
        _ensured.add(key)
    return client


def reset_clients() -> None:
    """Forget cached clients (tests point the app at a new Azurite)."""
    _service.cache_clear()
    _ensured.clear()
