"""Event Grid delivery as the host exposes it: POST /runtime/webhooks/eventgrid
?functionName=<name>&code=<eventgrid_extension key>, with the subscription validation
handshake (Event Grid schema: SubscriptionValidationEvent -> validationResponse; CloudEvents:
the OPTIONS abuse-protection handshake), one function invocation per event; and the
BlobCreated event an Event Grid subscription on a storage account sends."""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime

from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from devstack.host.durable.history import iso
from devstack.host.http_trigger import Reply
from devstack.host.index import FunctionSpec
from devstack.host.invoke import Invoker

log = logging.getLogger(__name__)
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
FAKE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def _json_reply(status: int, body) -> Reply:
    return Reply(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


def parse_events(body: bytes, content_type: str) -> list[dict]:
    """Events of one delivery: an Event Grid array, a CloudEvents batch, or one CloudEvent."""
    doc = json.loads(body or b"null")
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list) and all(isinstance(e, dict) for e in doc):
        return doc
    raise ValueError("an Event Grid delivery is a JSON array of events or one CloudEvent")


def validation_reply(events: list[dict]) -> Reply | None:
    """The Event Grid schema handshake: echo data.validationCode."""
    for e in events:
        if e.get("eventType") == VALIDATION_EVENT:
            code = (e.get("data") or {}).get("validationCode")
            if not code:
                return _json_reply(400, {"error": "validation event without validationCode"})
            log.info("eventgrid: answered the subscription validation handshake")
            return _json_reply(200, {"validationResponse": code})
    return None


def options_reply(headers: dict[str, str]) -> Reply:
    """CloudEvents webhook abuse protection (the OPTIONS handshake)."""
    origin = headers.get("webhook-request-origin")
    if not origin:
        return Reply(400, {"Content-Length": "0"})
    return Reply(200, {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*",
                       "Allow": "POST"})


def deliver(spec: FunctionSpec, method: str, headers: dict[str, str], body: bytes,
            invoker: Invoker) -> Reply:
    if method == "OPTIONS":
        return options_reply(headers)
    if method != "POST":
        return Reply(405, {"Allow": "POST, OPTIONS"})
    try:
        events = parse_events(body, headers.get("content-type", ""))
    except ValueError as exc:
        return _json_reply(400, {"error": "invalid event delivery", "detail": str(exc)})
    kind = headers.get("aeg-event-type", "Notification")
    if kind == "SubscriptionValidation" or any(e.get("eventType") == VALIDATION_EVENT
                                               for e in events):
        return validation_reply(events) or _json_reply(400, {"error": "no validation event"})
    if kind == "SubscriptionDeletion":
        return Reply(202, {})
    failed = 0
    for e in events:
        value = EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(e)),
                                                 trigger_metadata=None)
        try:
            invoker(spec, value)
        except Exception:
            failed += 1
            log.exception("function %s failed on event %s", spec.name, e.get("id"))
    return Reply(500, {}) if failed else Reply(202, {})


# --- BlobCreated, as an Event Grid subscription on a storage account sends it ------------


def storage_topic(account: str) -> str:
    return (f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/devstack/providers/"
            f"Microsoft.Storage/storageAccounts/{account}")


def sequencer(last_modified: datetime, etag: str) -> str:
    """32 hex digits that grow with each write of a blob, like the real `sequencer`."""
    micros = int(last_modified.timestamp() * 1_000_000)
    return f"{micros:016x}{int(uuid.uuid5(uuid.NAMESPACE_URL, etag).hex[:16], 16):016x}"


def blob_created(account: str, container: str, name: str, url: str, size: int, etag: str,
                 content_type: str | None, last_modified: datetime,
                 schema: str = "EventGridSchema", api: str = "PutBlob") -> dict:
    data = {
        "api": api,
        "clientRequestId": str(uuid.uuid4()),
        "requestId": str(uuid.uuid4()),
        "eTag": etag,
        "contentType": content_type or "application/octet-stream",
        "contentLength": size,
        "blobType": "BlockBlob",
        "url": url,
        "sequencer": sequencer(last_modified, etag),
        "storageDiagnostics": {"batchId": str(uuid.uuid4())},
    }
    subject = f"/blobServices/default/containers/{container}/blobs/{name}"
    # A stable id per blob version, so a duplicate delivery is recognisably the same event.
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{url}#{etag}"))
    if schema == "CloudEventSchemaV1_0":
        return {"specversion": "1.0", "type": "Microsoft.Storage.BlobCreated",
                "source": storage_topic(account), "id": event_id, "time": iso(last_modified),
                "subject": subject, "datacontenttype": "application/json", "data": data}
    return {"topic": storage_topic(account), "subject": subject,
            "eventType": "Microsoft.Storage.BlobCreated", "eventTime": iso(last_modified),
            "id": event_id, "data": data, "dataVersion": "", "metadataVersion": "1"}
