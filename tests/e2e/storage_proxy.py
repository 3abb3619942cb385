"""A recording HTTP proxy in front of Azurite's Blob service: the app's connection string
points at it, so a test sees every Blob REST call the app makes and classifies it as the
data action a container-scoped Azure role would have to allow (read, write, delete,
create the container)."""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


def classify(method: str, path: str) -> tuple[str | None, str]:
    """(container, kind) of one Blob REST call; kind is read | write | delete |
    create-container | delete-container | account."""
    url = urlparse(path)
    parts = url.path.lstrip("/").split("/", 2)  # account, container, blob
    query = parse_qs(url.query)
    container = parts[1] if len(parts) > 1 and parts[1] else None
    blob = parts[2] if len(parts) > 2 and parts[2] else None
    if container is None:
        return None, "account"
    is_container = blob is None and query.get("restype") == ["container"]
    if method in ("GET", "HEAD"):
        return container, "read"
    if is_container and "comp" not in query:
        return container, "create-container" if method == "PUT" else "delete-container"
    if method == "DELETE":
        return container, "delete"
    return container, "write"  # Put Blob/Block/Block List, metadata, lease, ...


class BlobProxy:
    """Serves on a free loopback port, forwards to `upstream_port`, records every call."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.calls: list[dict] = []  # {"method", "path", "status", "container", "kind"}
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                headers["Host"] = f"127.0.0.1:{proxy.upstream_port}"
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status, out_headers = resp.status, resp.getheaders()
                finally:
                    conn.close()
                container, kind = classify(self.command, self.path)
                with proxy.lock:
                    proxy.calls.append({"method": self.command, "path": self.path,
                                        "status": status, "container": container, "kind": kind})
                self.send_response(status)
                head = self.command == "HEAD"  # its Content-Length is the blob's size
                for k, v in out_headers:
                    if k.lower() not in HOP_BY_HOP and (head or k.lower() != "content-length"):
                        self.send_header(k, v)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="blob-proxy")

    def start(self) -> BlobProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def connection_string(self, upstream: str) -> str:
        """`upstream` (Azurite's) with the Blob endpoint moved to this proxy."""
        return upstream.replace(f"127.0.0.1:{self.upstream_port}/", f"127.0.0.1:{self.port}/")

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.calls)
