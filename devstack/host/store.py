"""The stand-in's state in Azurite: one blob container per task hub (`<hub>-devhost`) in the
`AzureWebJobsStorage` account. Instance records (history, inbox, outstanding work) are JSON
blobs written with ETag conditions; timer schedule status and the blob watcher's delivery
state live next to them. Several hosts and tests can share one Azurite: hubs stay apart."""
from __future__ import annotations

import json
import logging
from urllib.parse import unquote

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from devstack.host.durable.core import TERMINAL, blob_name

log = logging.getLogger(__name__)
INSTANCE_PREFIX = "instances/"


class ConcurrencyError(RuntimeError):
    """Someone else changed a record since we read it (another host on the same hub?)."""


def blob_service(connection_string: str):
    from azure.storage.blob import BlobServiceClient, LinearRetry

    if not connection_string:
        raise ValueError("AzureWebJobsStorage is not set: the host keeps its state in it "
                         "(use UseDevelopmentStorage=true or an Azurite connection string)")
    # The SDK's default retry waits 15 s and more between attempts; the engine retries
    # writes itself, so a local storage restart should cost seconds, not minutes.
    return BlobServiceClient.from_connection_string(
        connection_string, retry_policy=LinearRetry(backoff=0.5, random_jitter_range=0,
                                                    retry_total=3))


def container_name(task_hub: str) -> str:
    return f"{task_hub.lower()}-devhost"


class HubStore:
    def __init__(self, connection_string: str, task_hub: str):
        self.task_hub = task_hub
        self.container = blob_service(connection_string).get_container_client(
            container_name(task_hub))

    def ensure(self) -> HubStore:
        try:
            self.container.create_container()
        except ResourceExistsError:
            pass
        return self

    # --- plain JSON documents (timer status, watcher state) ------------------------------

    def get_json(self, name: str):
        try:
            return json.loads(self.container.download_blob(name).readall())
        except ResourceNotFoundError:
            return None

    def put_json(self, name: str, value) -> None:
        self.container.upload_blob(name, json.dumps(value).encode(), overwrite=True)

    # --- instance records ----------------------------------------------------------------

    def load(self, instance_id: str) -> tuple[dict | None, str | None]:
        try:
            downloader = self.container.download_blob(blob_name(instance_id))
        except ResourceNotFoundError:
            return None, None
        return json.loads(downloader.readall()), downloader.properties.etag

    def save(self, rec: dict, etag: str | None) -> str:
        """Write `rec`; `etag` None means it must not exist yet. Returns the new ETag."""
        from azure.core.exceptions import ResourceModifiedError

        data = json.dumps(rec, separators=(",", ":")).encode()
        meta = {"runtimestatus": rec["runtimeStatus"], "createdtime": rec["createdTime"],
                "name": rec["name"]}
        kw = ({"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag
              else {"match_condition": MatchConditions.IfMissing})
        try:
            props = self.container.get_blob_client(blob_name(rec["instanceId"])).upload_blob(
                data, overwrite=True, metadata=meta, **kw)
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise ConcurrencyError(
                f"instance {rec['instanceId']!r} in task hub {self.task_hub!r} was changed by "
                "someone else (is another host running on this task hub?)") from exc
        return props["etag"]

    def delete(self, instance_id: str) -> bool:
        try:
            self.container.delete_blob(blob_name(instance_id))
            return True
        except ResourceNotFoundError:
            return False

    def list_instances(self, prefix: str = ""):
        """(instance id, metadata) for every instance, in id order, without downloading."""
        from urllib.parse import quote

        start = INSTANCE_PREFIX + quote(prefix, safe="")
        for b in self.container.list_blobs(name_starts_with=start, include=["metadata"]):
            yield unquote(b.name[len(INSTANCE_PREFIX):]), dict(b.metadata or {})

    def active_instance_ids(self) -> list[str]:
        return [i for i, m in self.list_instances()
                if m.get("runtimestatus") not in TERMINAL]
