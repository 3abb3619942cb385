"""A local HTTPS stand-in for the Key Vault secrets REST API (the subset the app's real
`azure-keyvault-secrets` client uses): set (PUT /secrets/{name}), get (GET
/secrets/{name}[/{version}]), update properties (PATCH /secrets/{name}/{version}), list
versions; the bearer-token challenge (401 + WWW-Authenticate) the client expects first; a
throwaway CA. Versions are kept in order, so a test can read what a versionless Key Vault
reference resolves to (`latest`) and every version written."""
from __future__ import annotations

import json
import ssl
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlparse

from tests.integration.alerts.logs_stub import make_ca_and_cert
from tests.integration.alerts.receiver import ServedInThread

CHALLENGE = ('Bearer authorization="https://login.microsoftonline.com/'
             '00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"')


def _now() -> int:
    return int(datetime.now(UTC).timestamp())


class KeyVaultStub(ServedInThread):
    scheme = "https"

    def __init__(self, folder: Path):
        self.ca, cert, key = make_ca_and_cert(folder)
        self.versions: dict[str, list[dict]] = {}  # name -> bundles, oldest first
        self.requests: list[dict] = []  # {"method", "path", "auth", "apiVersion"}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization")
                with stub.lock:
                    stub.requests.append({"method": self.command, "path": url.path,
                                          "auth": auth, "query": url.query})
                if not (auth or "").startswith("Bearer "):
                    return self._send(401, {"error": {"code": "Unauthorized",
                                                      "message": "no bearer token"}},
                                      {"WWW-Authenticate": CHALLENGE})
                if "api-version=" not in url.query:
                    return self._send(400, {"error": {"code": "BadParameter",
                                                      "message": "api-version"}})
                parts = [p for p in url.path.split("/") if p]
                body = json.loads(raw) if raw.strip() else {}
                status, payload = stub.handle(self.command, parts, body)
                self._send(status, payload)

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_PATCH = _serve  # noqa: N815

            def log_message(self, *args):
                pass

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.serve(Handler, lambda sock: ctx.wrap_socket(sock, server_side=True))

    # --- the API ---------------------------------------------------------------------------
    def _bundle(self, name: str, version: str, b: dict, with_value: bool = True) -> dict:
        out = {"id": f"{self.url}/secrets/{name}/{version}", "attributes": dict(b["attributes"]),
               "tags": dict(b["tags"]), "contentType": b.get("contentType")}
        if with_value:
            out["value"] = b["value"]
        return out

    def handle(self, method: str, parts: list[str], body: dict) -> tuple[int, dict]:
        if not parts or parts[0] != "secrets" or len(parts) < 2:
            return 404, {"error": {"code": "NotFound", "message": "/".join(parts)}}
        name = parts[1]
        version = parts[2] if len(parts) > 2 else ""
        with self.lock:
            if method == "PUT" and not version:
                return 200, self.put(name, body.get("value"), body.get("attributes") or {},
                                     body.get("tags") or {}, body.get("contentType"))
            versions = self.versions.get(name) or []
            if version == "versions" and method == "GET":
                return 200, {"value": [self._bundle(name, b["version"], b, False)
                                       for b in versions], "nextLink": None}
            found = [b for b in versions if b["version"] == version] if version else versions[-1:]
            if not found:
                return 404, {"error": {"code": "SecretNotFound",
                                       "message": f"A secret with (name/id) {name} was not found"}}
            b = found[-1]
            if method == "GET":
                return 200, self._bundle(name, b["version"], b)
            if method == "PATCH" and version:
                b["attributes"].update(body.get("attributes") or {})
                if "tags" in body:
                    b["tags"] = dict(body["tags"] or {})
                if "contentType" in body:
                    b["contentType"] = body["contentType"]
                b["attributes"]["updated"] = _now()
                return 200, self._bundle(name, b["version"], b, False)
        return 405, {"error": {"code": "MethodNotAllowed", "message": method}}

    def put(self, name: str, value, attributes: dict | None = None, tags: dict | None = None,
            content_type: str | None = None) -> dict:
        """A new version (the API's PUT, also used by tests to seed)."""
        version = uuid.uuid4().hex
        b = {"version": version, "value": value, "tags": dict(tags or {}),
             "contentType": content_type,
             "attributes": {"enabled": True, "created": _now(), "updated": _now(),
                            "recoveryLevel": "Recoverable+Purgeable", **(attributes or {})}}
        self.versions.setdefault(name, []).append(b)
        return self._bundle(name, version, b)

    # --- for tests -------------------------------------------------------------------------
    def latest(self, name: str) -> dict:
        """What a versionless Key Vault reference resolves to."""
        with self.lock:
            return dict(self.versions[name][-1])

    def count(self, name: str) -> int:
        with self.lock:
            return len(self.versions.get(name) or [])
