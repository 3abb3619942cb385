"""The ARM REST surface of the emulator (api-version 2018-06-01), over HTTPS on loopback.

Served: factories (get/put), linked services, datasets and pipelines (put/get/list/delete),
`createRun` (with `referencePipelineRunId`, `isRecovery`, `startActivityName`,
`startFromFailure`), pipeline run get and cancel, `queryPipelineRuns` and
`queryActivityruns` (filters, `lastUpdatedAfter`/`Before`, `orderBy`, continuation token).
Every request needs `Authorization: Bearer <anything>` (401 otherwise, as ARM); unknown paths
get ARM-style error JSON. `/_emulator/...` is a test hook (health, injected faults, the
operations log) that a real factory does not have. A fault (`POST /_emulator/faults` with
`method`, `pathContains`, `status`, `count`, `retryAfter`, `code`) answers in place of the
request, or with `afterHandling: true` after carrying it out (an answer lost on the way).

Every authorized request is logged as the Azure RBAC operation a real factory would check
(`Microsoft.DataFactory/factories/pipelines/createrun/action`, ...; `operation_of`), so
tests can compare what a client did with what a role allows: `GET /_emulator/operations`
(optionally `?factory=<name>`), `DELETE /_emulator/operations` to start afresh (the log
keeps the last OPERATIONS_KEPT).

Cost and throttling hooks: `GET /_emulator/counts` gives requests per operation since the
start (or the last `DELETE /_emulator/counts`), 429s included; `POST /_emulator/throttle`
with `{"read": {"capacity", "refillPerSecond"}, "write": {...}}` switches on ARM-like token
buckets (`devstack.adf.throttle`), `DELETE /_emulator/throttle` switches them off (the
default). `POST /_emulator/settings` with `{"pageSize": n}` sets the query page size.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import threading
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from devstack.adf.engine import ApiError, Engine
from devstack.adf.store import Store, factory_key, iso, parse_iso, utcnow
from devstack.adf.throttle import Throttle

log = logging.getLogger("devstack.adf")

API_VERSION = "2018-06-01"
PAGE_SIZE = 100
MAX_BODY = 16 * 1024 * 1024
OPERATIONS_KEPT = 50_000

_FACTORY = (
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/"
    r"microsoft\.datafactory/factories/(?P<factory>[^/]+)"
)
ROUTES: list[tuple[str, re.Pattern, str]] = [
    (m, re.compile(_FACTORY + p + "$", re.I), h) for m, p, h in [
        ("GET", r"", "get_factory"),
        ("PUT", r"", "get_factory"),
        ("POST", r"/queryPipelineRuns", "query_runs"),
        ("GET", r"/pipelineruns/(?P<run>[^/]+)", "get_run"),
        ("POST", r"/pipelineruns/(?P<run>[^/]+)/cancel", "cancel_run"),
        ("POST", r"/pipelineruns/(?P<run>[^/]+)/queryActivityruns", "query_activities"),
        ("POST", r"/pipelines/(?P<name>[^/]+)/createRun", "create_run"),
        ("GET", r"/(?P<kind>linkedservices|pipelines|datasets)", "list_resources"),
        ("GET", r"/(?P<kind>linkedservices|pipelines|datasets)/(?P<name>[^/]+)", "get_resource"),
        ("PUT", r"/(?P<kind>linkedservices|pipelines|datasets)/(?P<name>[^/]+)", "put_resource"),
        ("DELETE", r"/(?P<kind>linkedservices|pipelines|datasets)/(?P<name>[^/]+)",
         "delete_resource"),
    ]
]
_TYPES = {"linkedservices": "linkedservices", "pipelines": "pipelines", "datasets": "datasets"}

OPERATION_PREFIX = "Microsoft.DataFactory/factories"
# handler -> the RBAC operation ARM authorizes it with ("{kind}" from the path).
_OPERATIONS = {
    ("GET", "get_factory"): "read",
    ("PUT", "get_factory"): "write",
    ("POST", "query_runs"): "querypipelineruns/action",
    ("GET", "get_run"): "pipelineruns/read",
    ("POST", "cancel_run"): "pipelineruns/cancel/action",
    ("POST", "query_activities"): "pipelineruns/queryactivityruns/action",
    ("POST", "create_run"): "pipelines/createrun/action",
    ("GET", "list_resources"): "{kind}/read",
    ("GET", "get_resource"): "{kind}/read",
    ("PUT", "put_resource"): "{kind}/write",
    ("DELETE", "delete_resource"): "{kind}/delete",
}


def operation_of(method: str, handler: str, groups: dict) -> str:
    """The RBAC operation of one API call, e.g. Microsoft.DataFactory/factories/pipelines/
    createrun/action."""
    action = _OPERATIONS[(method, handler)]
    if "{kind}" in action:
        action = action.format(kind=_TYPES[groups["kind"].lower()])
    return f"{OPERATION_PREFIX}/{action}"

RUN_FIELDS = ("runId", "runGroupId", "isLatest", "pipelineName", "invokedBy", "lastUpdated",
              "runStart", "runEnd", "durationInMs", "status", "message")
ACTIVITY_FIELDS = ("activityName", "activityType", "activityRunId", "linkedServiceName",
                   "status", "activityRunStart", "activityRunEnd", "durationInMs", "input",
                   "output", "error", "retryAttempt")


def _param_text(v) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def run_view(run: dict) -> dict:
    """A run as the REST API shows it (parameters as strings, internals left out)."""
    view = {k: run.get(k) for k in RUN_FIELDS}
    view["parameters"] = {k: _param_text(v) for k, v in run["parameters"].items()}
    view["runDimensions"] = {}
    return view


def activity_view(run: dict, rec: dict) -> dict:
    view = {k: rec.get(k) for k in ACTIVITY_FIELDS}
    view.update(pipelineName=run["pipelineName"], pipelineRunId=run["runId"])
    view["error"] = rec.get("error") or {"errorCode": "", "message": "", "failureType": "",
                                          "target": rec["activityName"], "details": ""}
    return view


# --- query filters and paging (pure) ---------------------------------------------------------

_FIELD_OF = {
    "pipelinename": "pipelineName", "status": "status", "runstart": "runStart",
    "runend": "runEnd", "rungroupid": "runGroupId", "activityname": "activityName",
    "activitytype": "activityType", "activityrunstart": "activityRunStart",
    "activityrunend": "activityRunEnd",
}
_TIME_FIELDS = {"runStart", "runEnd", "activityRunStart", "activityRunEnd"}


def _comparable(field: str, value):
    if value is None:
        return None
    if field in _TIME_FIELDS:
        return parse_iso(value) if isinstance(value, str) else value
    return str(value).lower()


def matches(item: dict, filters: list[dict]) -> bool:
    for f in filters or []:
        operand = str(f.get("operand", "")).lower()
        operator = str(f.get("operator", "")).lower()
        if operand == "latestonly":
            wanted = str((f.get("values") or ["true"])[0]).lower() == "true"
            if wanted and not item.get("isLatest", True):
                return False
            continue
        field = _FIELD_OF.get(operand)
        if field is None:
            raise ApiError(400, "BadRequest", f"Unsupported filter operand '{f.get('operand')}'")
        value = _comparable(field, item.get(field))
        values = [_comparable(field, v) for v in f.get("values") or []]
        if operator in ("equals", "in"):
            ok = value in values
        elif operator in ("notequals", "notin"):
            ok = value not in values
        else:
            raise ApiError(400, "BadRequest", f"Unsupported filter operator '{f.get('operator')}'")
        if not ok:
            return False
    return True


def _encode_token(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_token(token: str) -> list:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise ApiError(400, "BadRequest", "continuationToken is not valid") from None


def page(items: list[dict], body: dict, default_order: str, id_field: str,
         size: int = PAGE_SIZE) -> dict:
    """Sort, then return the page after the continuation token (keyset paging: an item is
    returned once even when new items arrive between pages)."""
    order_by = (body.get("orderBy") or [{}])[0]
    field = _FIELD_OF.get(str(order_by.get("orderBy", default_order)).lower(), default_order)
    desc = str(order_by.get("order", "ASC")).upper() == "DESC"

    def key(item):
        return [str(item.get(field) or ""), str(item[id_field])]

    items = sorted(items, key=key, reverse=desc)
    token = body.get("continuationToken")
    if token:
        after = _decode_token(token)
        items = [i for i in items if (key(i) < after if desc else key(i) > after)]
    chunk = items[:size]
    result = {"value": chunk}
    if len(items) > size:
        result["continuationToken"] = _encode_token(key(chunk[-1]))
    return result


def _window(body: dict) -> tuple:
    try:
        after, before = body["lastUpdatedAfter"], body["lastUpdatedBefore"]
        return parse_iso(after), parse_iso(before)
    except (KeyError, TypeError, ValueError):
        raise ApiError(
            400, "BadRequest", "lastUpdatedAfter and lastUpdatedBefore are required ISO-8601 times"
        ) from None


class Api:
    """Request handling independent of the HTTP plumbing: (method, path, query, body) in,
    (status, json) out."""

    def __init__(self, store: Store, engine: Engine):
        self.store, self.engine = store, engine
        self.faults: list[dict] = []
        self.fault_lock = threading.Lock()
        # {"operation", "factory", "method", "path", "status"}, the newest OPERATIONS_KEPT
        self.operations: deque[dict] = deque(maxlen=OPERATIONS_KEPT)
        self.operations_lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.throttle: Throttle | None = None
        self.page_size = PAGE_SIZE

    def record(self, operation: str | None, factory: str | None, method: str, path: str,
               status: int) -> None:
        with self.operations_lock:
            self.operations.append({"operation": operation, "factory": factory,
                                    "method": method, "path": path, "status": status})
            self.counts[operation or "unknown"] += 1

    def operations_of(self, factory: str | None = None) -> list[dict]:
        with self.operations_lock:
            return [dict(o) for o in self.operations
                    if factory is None or (o["factory"] or "").lower() == factory.lower()]

    def handle(self, method: str, path: str, query: dict, body, headers) -> tuple[int, object, dict]:
        if path.startswith("/_emulator/"):
            return self._admin(method, path, query, body)
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return 401, _err("AuthenticationFailed",
                             "Authentication failed. The 'Authorization' header is missing or "
                             "is not a bearer token."), {}
        fault = self._take_fault(method, path)
        if fault and not fault.get("afterHandling"):
            return self._fault_answer(fault)
        answer = self._route(method, path, query, body)
        # afterHandling: the request took effect and its answer was lost (a timeout after
        # ARM accepted a create), which is what makes a retried start look for its run
        return self._fault_answer(fault) if fault else answer

    @staticmethod
    def _fault_answer(fault: dict) -> tuple[int, object, dict]:
        extra = {"Retry-After": str(fault["retryAfter"])} if "retryAfter" in fault else {}
        return fault["status"], _err(fault.get("code", "InjectedFault"),
                                     "injected by the emulator's test hook"), extra

    def _route(self, method: str, path: str, query: dict, body) -> tuple[int, object, dict]:
        for m, pattern, handler in ROUTES:
            match = pattern.match(path)
            if match and m == method:
                groups = match.groupdict()
                operation = operation_of(method, handler, groups)
                throttle = self.throttle
                refused, limits = throttle.check(method, handler) if throttle else (None, {})
                if refused:
                    self.record(operation, groups["factory"], method, path, refused)
                    return refused, _err("TooManyRequests", "The request is being throttled "
                                         "(emulated ARM limits)."), limits
                if query.get("api-version") is None:
                    self.record(operation, groups["factory"], method, path, 400)
                    return 400, _err("MissingApiVersionParameter",
                                     "The api-version query parameter (?api-version=) is "
                                     "required for all requests."), {}
                try:
                    status, payload = getattr(self, handler)(groups, query, body)
                except ApiError as exc:
                    self.record(operation, groups["factory"], method, path, exc.status)
                    return exc.status, _err(exc.code, exc.message), limits
                self.record(operation, groups["factory"], method, path, status)
                return status, payload, limits
        self.record(None, None, method, path, 404)
        return 404, _err("NotFound", f"No Data Factory API at {method} {path} in the local "
                                     "emulator"), {}

    # --- test hook -------------------------------------------------------------------------
    def _admin(self, method: str, path: str, query: dict, body) -> tuple[int, object, dict]:
        if path == "/_emulator/health":
            return 200, {"ok": True}, {}
        if path == "/_emulator/faults" and method == "POST":
            with self.fault_lock:
                self.faults.append(dict(body or {}))
            return 200, {"faults": len(self.faults)}, {}
        if path == "/_emulator/operations" and method == "GET":
            return 200, {"value": self.operations_of(query.get("factory"))}, {}
        if path == "/_emulator/operations" and method == "DELETE":
            with self.operations_lock:
                self.operations.clear()
            return 200, {"value": []}, {}
        if path == "/_emulator/counts":
            with self.operations_lock:
                counts = dict(self.counts)
                if method == "DELETE":
                    self.counts.clear()
            refused = self.throttle.refused if self.throttle else 0
            return 200, {"value": counts, "total": sum(counts.values()), "throttled": refused}, {}
        if path == "/_emulator/throttle" and method in ("POST", "DELETE"):
            self.throttle = Throttle(body) if method == "POST" and body else None
            return 200, {"throttle": body if self.throttle else None}, {}
        if path == "/_emulator/settings" and method == "POST":
            self.page_size = int((body or {}).get("pageSize") or PAGE_SIZE)
            return 200, {"pageSize": self.page_size}, {}
        return 404, _err("NotFound", path), {}

    def _take_fault(self, method: str, path: str) -> dict | None:
        with self.fault_lock:
            for fault in self.faults:
                if fault.get("method", method) == method and fault.get("pathContains", "") in path:
                    fault["count"] = fault.get("count", 1) - 1
                    if fault["count"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # --- resources ---------------------------------------------------------------------------
    def _base(self, g: dict) -> str:
        return (f"/subscriptions/{g['sub']}/resourceGroups/{g['rg']}/providers/"
                f"Microsoft.DataFactory/factories/{g['factory']}")

    def _key(self, g: dict) -> str:
        return factory_key(g["rg"], g["factory"])

    def get_factory(self, g, query, body):
        return 200, {
            "id": self._base(g), "name": g["factory"], "type": "Microsoft.DataFactory/factories",
            "location": "local", "properties": {"provisioningState": "Succeeded",
                                                "createTime": iso(utcnow()), "version": API_VERSION},
            "eTag": '"0"',
        }

    def _resource_view(self, g: dict, kind: str, res: dict) -> dict:
        return {"id": f"{self._base(g)}/{kind}/{res['name']}", "name": res["name"],
                "type": f"Microsoft.DataFactory/factories/{kind}",
                "properties": res["properties"], "etag": res.get("etag")}

    def list_resources(self, g, query, body):
        kind = _TYPES[g["kind"].lower()]
        items = self.store.list_resources(self._key(g), kind)
        return 200, {"value": [self._resource_view(g, kind, r) for r in items]}

    def get_resource(self, g, query, body):
        kind = _TYPES[g["kind"].lower()]
        res = self.store.get_resource(self._key(g), kind, g["name"])
        if res is None:
            raise ApiError(404, "NotFound", f"{kind[:-1]} '{g['name']}' not found")
        return 200, self._resource_view(g, kind, res)

    def put_resource(self, g, query, body):
        kind = _TYPES[g["kind"].lower()]
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise ApiError(400, "BadRequest", f"{kind[:-1]} body needs a 'properties' object")
        props = body["properties"]
        if kind == "pipelines" and not isinstance(props.get("activities", []), list):
            raise ApiError(400, "BadRequest", "pipeline properties.activities must be a list")
        if kind != "pipelines" and not props.get("type"):
            raise ApiError(400, "BadRequest", f"{kind[:-1]} properties.type is required")
        res = {"name": g["name"], "properties": props, "etag": f'"{utcnow().timestamp()}"'}
        self.store.put_resource(self._key(g), kind, g["name"], res)
        return 200, self._resource_view(g, kind, res)

    def delete_resource(self, g, query, body):
        kind = _TYPES[g["kind"].lower()]
        found = self.store.delete_resource(self._key(g), kind, g["name"])
        return (200 if found else 204), {}

    # --- runs --------------------------------------------------------------------------------
    def create_run(self, g, query, body):
        if body is not None and not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "createRun body must be a JSON object of parameters")

        def flag(name):
            return str(query.get(name, "false")).lower() == "true"

        run = self.engine.create_run(
            self._key(g), g["factory"], g["name"], body or {},
            reference_run_id=query.get("referencePipelineRunId"),
            is_recovery=flag("isRecovery"),
            start_activity_name=query.get("startActivityName"),
            start_from_failure=flag("startFromFailure"),
        )
        return 200, {"runId": run["runId"]}

    def get_run(self, g, query, body):
        with self.store.lock:
            return 200, run_view(self.engine.get_run(self._key(g), g["run"]))

    def cancel_run(self, g, query, body):
        self.engine.cancel(self._key(g), g["run"])
        return 200, None

    def query_runs(self, g, query, body):
        body = body or {}
        after, before = _window(body)
        with self.store.lock:
            views = [run_view(r) for r in self.store.runs_of(self._key(g))
                     if after <= parse_iso(r["lastUpdated"]) <= before]
        views = [v for v in views if matches(v, body.get("filters"))]
        return 200, page(views, body, "runStart", "runId", self.page_size)

    def query_activities(self, g, query, body):
        body = body or {}
        after, before = _window(body)
        with self.store.lock:
            run = self.engine.get_run(self._key(g), g["run"])
            views = [activity_view(run, rec) for rec in run["activityRuns"]
                     if after <= parse_iso(rec["activityRunStart"]) <= before]
        views = [v for v in views if matches(v, body.get("filters"))]
        return 200, page(views, body, "activityRunStart", "activityRunId", self.page_size)


def _err(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "target": None, "details": None}}


def make_handler(api: Api):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "adf-emulator"

        def log_message(self, fmt, *args):  # route access logs through logging, quietly
            log.debug("%s " + fmt, self.address_string(), *args)

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, _err("RequestTooLarge", "request body too large"), {})
                return
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                self._send(400, _err("BadRequest", "request body is not valid JSON"), {})
                return
            try:
                status, payload, extra = api.handle(method, url.path, query, body, self.headers)
            except Exception as exc:  # keep the server up; report like ARM would
                log.exception("emulator error on %s %s", method, url.path)
                status, payload, extra = 500, _err("InternalServerError", str(exc)), {}
            self._send(status, payload, extra)

        def _send(self, status: int, payload, extra: dict) -> None:
            data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", self.headers.get("x-ms-client-request-id", ""))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_PUT(self):
            self._serve("PUT")

        def do_POST(self):
            self._serve("POST")

        def do_DELETE(self):
            self._serve("DELETE")

    return Handler


def make_server(api: Api, port: int, cert: str, key: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(api))
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    return server
