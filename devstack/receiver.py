"""A local alert receiver: the webhook end of the alert sinks, for the demo and the tests.

Records every POST (path, headers, JSON body, whether its HMAC-SHA256 signature verified)
and can be told to answer 500 to the next N deliveries, to show retries.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from devstack.ports import free_port

SIGNATURE_HEADER = "X-Glue-Signature"


class AlertReceiver:
    def __init__(self, secret: str | None = None, port: int | None = None):
        self.secret = secret
        self.port = port or free_port()
        self.received: list[dict] = []
        self.fail_next = 0
        self.failures_served = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def _verify(self, body: bytes, header: str | None) -> bool | None:
        # Computed here from the secret, not with the app's own helper: the receiver stands
        # for the far side of the webhook, so it checks the app's signing independently.
        if not self.secret:
            return None
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return header is not None and hmac.compare_digest(expected, header)

    def _handle(self, path: str, headers: dict, body: bytes) -> int:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failures_served += 1
                return 500
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            self.received.append({"path": path, "headers": headers, "body": payload,
                                  "signatureValid": self._verify(body, headers.get(SIGNATURE_HEADER))})
            return 200

    def start(self) -> AlertReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = receiver._handle(self.path, dict(self.headers.items()), body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def alerts(self, kind: str | None = None, condition: str | None = None) -> list[dict]:
        """Received common-alert-schema payloads, optionally filtered by our alert kind
        (the alert rule) and monitor condition (Fired/Resolved)."""
        out = []
        with self._lock:
            items = list(self.received)
        for item in items:
            ess = ((item["body"] or {}).get("data") or {}).get("essentials") or {}
            if kind and ess.get("alertRule") != kind:
                continue
            if condition and ess.get("monitorCondition") != condition:
                continue
            out.append(item)
        return out
