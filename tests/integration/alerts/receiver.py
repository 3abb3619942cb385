"""A local webhook receiver: records every POST and answers from a per-path script."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ServedInThread:
    """A ThreadingHTTPServer on a free loopback port, served from a daemon thread while the
    object is used as a context manager."""

    scheme = "http"

    def serve(self, handler, wrap=None):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if wrap is not None:
            self.server.socket = wrap(self.server.socket)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Receiver(ServedInThread):
    """`script[path]` is a list of (status, headers) answered in turn; the last one repeats.
    Unscripted paths answer 200. `gates[path]` (an Event) holds each answer until it is set,
    so a test can keep a delivery in flight; `wait_for` waits for requests to arrive."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict]]] = {}
        self.gates: dict[str, threading.Event] = {}
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "body": body,
                                              "headers": dict(self.headers)})
                    receiver._lock.notify_all()
                    steps = receiver.script.get(self.path) or [(200, {})]
                    status, headers = steps.pop(0) if len(steps) > 1 else steps[0]
                    gate = receiver.gates.get(self.path)
                if gate is not None:
                    gate.wait(timeout=60)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.serve(Handler)

    def to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[dict]:
        """Wait until `count` requests to `path` have arrived; they."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.to(path)) >= count, timeout):
                raise AssertionError(f"{path}: {len(self.to(path))} requests, not {count}")
            return self.to(path)
