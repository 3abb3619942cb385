"""The app's Azure credential: one per process, built on first use."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4)
def credential(client_id: str | None = None):
    """`ManagedIdentityCredential` for a user-assigned identity, else `DefaultAzureCredential`."""
    if client_id:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()
