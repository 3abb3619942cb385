"""Blob storage for the training programs: a connection string locally (Azurite), an account
URL with a managed identity in Azure. Paths are "<container>/<blob>" strings, as in the
pipeline parameters."""
from __future__ import annotations

import codecs
import json
from collections.abc import Iterator

from training.activity import UsageError


def service_client(connection_string: str | None = None, account_url: str | None = None,
                   client_id: str | None = None):
    from azure.storage.blob import BlobServiceClient

    if connection_string:
        return BlobServiceClient.from_connection_string(connection_string)
    if not account_url:
        raise UsageError(
            "no storage configured: set STORAGE_CONNECTION_STRING, or pass "
            "--storage-account-url / extendedProperties.storageAccountUrl / STORAGE_ACCOUNT_URL"
        )
    if client_id:
        from azure.identity import ManagedIdentityCredential

        credential = ManagedIdentityCredential(client_id=client_id)
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return BlobServiceClient(account_url, credential=credential)


def split_path(path: str) -> tuple[str, str]:
    """"container/some/blob" -> ("container", "some/blob")."""
    container, _, blob = path.strip("/").partition("/")
    if not container or not blob:
        raise UsageError(f"blob path {path!r} must look like '<container>/<blob name>'")
    return container, blob


class Store:
    """Thin helpers over one BlobServiceClient; creates containers it writes to."""

    def __init__(self, service):
        self.service = service
        self._ensured: set[str] = set()

    def container(self, name: str, create: bool = False):
        client = self.service.get_container_client(name)
        if create and name not in self._ensured:
            from azure.core.exceptions import ResourceExistsError

            try:
                client.create_container()
            except ResourceExistsError:
                pass
            self._ensured.add(name)
        return client

    def blob(self, container: str, name: str, create: bool = False):
        return self.container(container, create=create).get_blob_client(name)

    def exists(self, container: str, name: str) -> bool:
        return self.blob(container, name).exists()

    def read_bytes(self, container: str, name: str) -> bytes:
        return self.blob(container, name).download_blob().readall()

    def read_json(self, container: str, name: str):
        return json.loads(self.read_bytes(container, name))

    def write_bytes(self, container: str, name: str, data: bytes, content_type: str | None = None,
                    **conditions):
        from azure.storage.blob import ContentSettings

        settings = ContentSettings(content_type=content_type) if content_type else None
        return self.blob(container, name, create=True).upload_blob(
            data, overwrite=conditions.pop("overwrite", True), content_settings=settings,
            **conditions,
        )

    def write_json(self, container: str, name: str, doc, **conditions):
        data = json.dumps(doc, indent=2, sort_keys=True).encode()
        return self.write_bytes(container, name, data, "application/json", **conditions)

    def list_names(self, container: str, prefix: str) -> list[str]:
        return sorted(b.name for b in self.container(container).list_blobs(name_starts_with=prefix))


def iter_text_lines(downloader, encoding: str = "utf-8-sig") -> Iterator[str]:
    """Lines of a downloading blob (split on "\\n" only, as `csv` expects), decoded
    incrementally so memory stays at one chunk."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    carry = ""
    for chunk in downloader.chunks():
        parts = (carry + decoder.decode(chunk)).split("\n")
        carry = parts.pop()
        for part in parts:
            yield part + "\n"
    tail = carry + decoder.decode(b"", final=True)
    if tail:
        yield tail


class BlockWriter:
    """Streams a large blob as staged blocks, committed at the end (memory: one block)."""

    def __init__(self, blob_client, block_size: int = 4 * 1024 * 1024):
        self.blob = blob_client
        self.block_size = block_size
        self.buffer = bytearray()
        self.block_ids: list[str] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.buffer += data
        self.size += len(data)
        if len(self.buffer) >= self.block_size:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        import base64

        block_id = base64.b64encode(f"{len(self.block_ids):08d}".encode()).decode()
        self.blob.stage_block(block_id, bytes(self.buffer))
        self.block_ids.append(block_id)
        self.buffer = bytearray()

    def close(self, content_type: str = "text/csv") -> int:
        from azure.storage.blob import BlobBlock, ContentSettings

        self._flush()
        self.blob.commit_block_list(
            [BlobBlock(block_id=b) for b in self.block_ids],
            content_settings=ContentSettings(content_type=content_type),
        )
        return self.size
