"""HTTP triggers: route table, auth levels, and the `func.HttpRequest` in / `func.HttpResponse`
out conversion the worker does."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import azure.functions as func
from azure.functions.http import HttpRequest, HttpResponseConverter

from devstack.host.index import FunctionSpec
from devstack.host.invoke import Invoker
from devstack.host.keys import Keys
from devstack.host.routes import Route

log = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class HttpFunction:
    spec: FunctionSpec
    route: Route
    methods: frozenset[str] | None  # None: any method
    auth_level: str

    @classmethod
    def of(cls, spec: FunctionSpec, prefix: str) -> HttpFunction:
        t = spec.trigger
        route = t.get("route") or spec.name
        full = f"{prefix}/{route.strip('/')}" if prefix else route
        methods = t.get("methods")
        return cls(spec, Route.parse(full),
                   frozenset(m.upper() for m in methods) if methods else None,
                   str(t.get("authLevel") or "function").lower())

    def describe(self, base_url: str) -> str:
        methods = ",".join(sorted(self.methods)) if self.methods else "GET,POST,..."
        return f"{self.spec.name}: [{methods}] {base_url}/{self.route.template}"


def route_table(specs: list[FunctionSpec], prefix: str) -> list[HttpFunction]:
    table = [HttpFunction.of(s, prefix) for s in specs]
    return sorted(table, key=lambda h: h.route.precedence)


def find(table: list[HttpFunction], method: str, path: str):
    """The function and route parameters for a request; a method the route does not accept
    is no match (404), as in the real host."""
    for h in table:
        params = h.route.match(path)
        if params is not None and (h.methods is None or method in h.methods):
            return h, params
    return None, None


def invoke(h: HttpFunction, keys: Keys, method: str, url: str, headers: dict[str, str],
           query: dict[str, str], route_params: dict[str, str], body: bytes,
           invoker: Invoker) -> Reply:
    from devstack.host.keys import key_from

    if not keys.allows(h.auth_level, key_from(headers, query)):
        return Reply(401, {"Content-Length": "0"})
    req = HttpRequest(method, url, headers=headers, params=query, route_params=route_params,
                      body_type="bytes", body=body)
    try:
        result = invoker(h.spec, req)
    except Exception:
        log.exception("function %s failed", h.spec.name)
        return Reply(500, {})
    return to_reply(result)


def to_reply(result) -> Reply:
    if result is None:
        return Reply(204, {})
    if isinstance(result, str):
        return Reply(200, {"Content-Type": "text/plain; charset=utf-8"}, result.encode())
    if isinstance(result, func.HttpResponse):
        datum = HttpResponseConverter.encode(result, expected_type=None).value
        headers = {k: v.value for k, v in datum["headers"].items()}
        return Reply(int(datum["status_code"].value), headers, datum["body"].value or b"")
    log.error("an HTTP function returned %s, not an HttpResponse", type(result).__name__)
    return Reply(500, {})
