"""The Durable Functions HTTP API under /runtime/webhooks/durabletask/, the subset the
stock `DurableOrchestrationClient` uses: start, status (with history), list/query, raise
event, terminate, purge. Status codes follow the real host's HttpApiHandler."""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

from devstack.host.durable.engine import AlreadyExists, DurableEngine, UnknownOrchestrator
from devstack.host.durable.history import parse_iso
from devstack.host.durable.status import management_urls, status_json

log = logging.getLogger(__name__)
FORBIDDEN_ID_CHARS = set("/\\#?")
CONTINUATION_HEADER = "x-ms-continuation-token"


@dataclass
class ApiResponse:
    status: int
    body: object = None  # JSON-able, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


def _flag(query: dict[str, str], name: str, default: bool) -> bool:
    value = query.get(name)
    return default if value is None else value.lower() == "true"


def _error(status: int, message: str) -> ApiResponse:
    return ApiResponse(status, {"Message": message, "ExceptionMessage": message})


class DurableApi:
    def __init__(self, engine: DurableEngine, base_url: str, task_hub: str, system_key: str):
        self.engine = engine
        self.base_url = base_url
        self.task_hub = task_hub
        self.system_key = system_key

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes,
               headers: dict[str, str]) -> ApiResponse:
        """`path` is what follows /runtime/webhooks/durabletask/."""
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        try:
            if parts[:1] == ["orchestrators"] and method == "POST" and len(parts) in (2, 3):
                return self._start(parts[1], parts[2] if len(parts) == 3 else None, body)
            if parts[:1] == ["instances"]:
                return self._instances(method, parts[1:], query, body, headers)
        except ValueError as exc:
            return _error(400, str(exc))
        return _error(404, f"no Durable API operation for {method} /{path}")

    # --- operations --------------------------------------------------------------------

    def _start(self, name: str, instance_id: str | None, body: bytes) -> ApiResponse:
        instance_id = instance_id or uuid.uuid4().hex
        _check_id(instance_id)
        value = _json_body(body)
        # The orchestrator's context gets the input as JSON text (what the Python client
        # sends); a raw JSON body from another caller is turned into that text.
        input_value = value if value is None or isinstance(value, str) else json.dumps(value)
        try:
            self.engine.start_new(name, instance_id, input_value)
        except UnknownOrchestrator as exc:
            return _error(400, str(exc))
        except AlreadyExists as exc:
            log.info("durable: start of %s refused: %s", instance_id, exc)
            return _error(409, str(exc))
        payload = management_urls(self.base_url, self.task_hub, self.system_key, instance_id)
        return ApiResponse(202, payload, {"Location": payload["statusQueryGetUri"],
                                          "Retry-After": "10"})

    def _instances(self, method, rest, query, body, headers) -> ApiResponse:
        if not rest or rest == [""]:
            if method == "GET":
                return self._query(query, headers)
            if method == "DELETE":
                return self._purge_many(query)
            return _error(405, f"{method} is not supported on /instances")
        instance_id = rest[0]
        _check_id(instance_id)
        if len(rest) == 1 and method == "GET":
            rec = self.engine.get(instance_id)
            if rec is None:
                return ApiResponse(404, None)
            status = status_json(rec, _flag(query, "showInput", True),
                                 _flag(query, "showHistory", False),
                                 _flag(query, "showHistoryOutput", False))
            code = 202 if rec["runtimeStatus"] in ("Pending", "Running") else 200
            if rec["runtimeStatus"] == "Failed" and _flag(
                    query, "returnInternalServerErrorOnFailure", False):
                code = 500
            return ApiResponse(code, status)
        if len(rest) == 1 and method == "DELETE":
            deleted = self.engine.purge(instance_id)
            return ApiResponse(200, {"instancesDeleted": 1}) if deleted else ApiResponse(404)
        if len(rest) == 3 and rest[1] == "raiseEvent" and method == "POST":
            text = json.dumps(_json_body(body))
            code = self.engine.raise_event(instance_id, rest[2], text)
            return ApiResponse(code, None)
        if len(rest) == 2 and rest[1] == "terminate" and method == "POST":
            return ApiResponse(self.engine.terminate(instance_id, query.get("reason")), None)
        if len(rest) == 2 and rest[1] in ("rewind", "suspend", "resume", "restart"):
            return _error(501, f"{rest[1]} is not supported by the devstack host")
        return _error(404, f"no Durable API operation for {method} instances/{'/'.join(rest)}")

    def _matching(self, query: dict[str, str]) -> list[str]:
        """Instance ids that pass the filters, read from blob metadata (no downloads)."""
        statuses = {s for s in query.get("runtimeStatus", "").split(",") if s}
        since = query.get("createdTimeFrom")
        until = query.get("createdTimeTo")
        since_dt = parse_iso(since) if since else None
        until_dt = parse_iso(until) if until else None
        ids = []
        for instance_id, meta in self.engine.store.list_instances(
                query.get("instanceIdPrefix", "")):
            if statuses and meta.get("runtimestatus") not in statuses:
                continue
            created = meta.get("createdtime")
            if created and since_dt and parse_iso(created) < since_dt:
                continue
            if created and until_dt and parse_iso(created) > until_dt:
                continue
            ids.append(instance_id)
        return sorted(ids)

    def _query(self, query, headers) -> ApiResponse:
        ids = self._matching(query)
        token = headers.get(CONTINUATION_HEADER)
        if token:
            ids = [i for i in ids if i > token]
        top = int(query.get("top") or 0)
        page, more = (ids[:top], len(ids) > top) if top > 0 else (ids, False)
        show_input = _flag(query, "showInput", False)
        out = []
        for instance_id in page:
            rec = self.engine.get(instance_id)
            if rec is not None:
                out.append(status_json(rec, show_input))
        extra = {CONTINUATION_HEADER: page[-1]} if more and page else {}
        return ApiResponse(200, out, extra)

    def _purge_many(self, query) -> ApiResponse:
        if not query.get("createdTimeFrom"):
            raise ValueError("createdTimeFrom is required to purge by filter")
        deleted = sum(1 for i in self._matching(query) if self.engine.purge(i))
        return ApiResponse(200, {"instancesDeleted": deleted}) if deleted else ApiResponse(404)


def _check_id(instance_id: str) -> None:
    if not instance_id or FORBIDDEN_ID_CHARS & set(instance_id) or len(instance_id) > 256:
        raise ValueError(f"invalid instance id {instance_id!r}: 1-256 characters, none of "
                         "/ \\ # ?")


def _json_body(body: bytes):
    if not body or not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise ValueError("Only application/json request content is supported") from None
