"""The stand-in's HTTP front door (stdlib ThreadingHTTPServer, HTTP/1.1 keep-alive): reads
requests with a body limit and hands them to the host's router."""
from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from devstack.host.http_trigger import Reply

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devstack-functions-host"

    def log_message(self, fmt, *args) -> None:  # route access logs to logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            raise BodyTooLarge
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        router = self.server.router  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        query: dict[str, str] = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            query[k] = f"{query[k]},{v}" if k in query else v  # repeated keys join, as ASP.NET
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body(router.max_body_bytes)
        except BodyTooLarge:
            self.close_connection = True
            self._send(Reply(413, {"Content-Type": "application/json"},
                             b'{"error": "request body too large", "detail": null}'))
            return
        try:
            reply = router.route(self.command, parts.path, query, headers, body,
                                 raw_query=parts.query)
        except Exception:
            log.exception("host: %s %s failed", self.command, self.path)
            reply = Reply(500, {})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        body = b"" if self.command == "HEAD" else reply.body
        for k, v in reply.headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle


class HostServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, router):
        self.router = router
        super().__init__(("127.0.0.1", port), Handler)
