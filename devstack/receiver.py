"""A local alert receiver: the webhook end of the alert sinks, for the demo and the tests.

Records every POST (path, headers, JSON body, whether its `X-Glue-Signature` verified, with
the same check a real receiver makes: `shared.alerts.payloads.verify_signature`, timestamp
within five minutes, any of its secrets) and can be told to answer 500 to the next N
deliveries, to show retries. `notification_ids()` lists what it took, duplicates included,
so a test can see that nothing arrived twice.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import ThreadingHTTPServer

from devstack.loopback import QuietHandler, serve, shut
from devstack.ports import free_port
from shared.alerts.payloads import NOTIFICATION_HEADER, SIGNATURE_HEADER, verify_signature


class AlertReceiver:
    def __init__(self, secret: str | list[str] | None = None, port: int | None = None):
        # the secrets it accepts: during a rotation, the old and the new one
        self.secrets = [secret] if isinstance(secret, str) else list(secret or [])
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
        if not self.secrets:
            return None
        return verify_signature(header, body, self.secrets, time.time())

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

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code = receiver._handle(self.path, dict(self.headers.items()), body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = serve(self.port, Handler)
        return self

    def stop(self) -> None:
        shut(self._server)
        self._server = None

    def notification_ids(self) -> list[str]:
        """The X-Glue-Notification-Id of every delivery taken, in order, duplicates kept."""
        with self._lock:
            return [next((v for k, v in item["headers"].items()
                         if k.lower() == NOTIFICATION_HEADER.lower()), None)
                    for item in self.received]

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
