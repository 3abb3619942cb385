"""The host stand-in: serves an indexed function app (HTTP routes, timers, Event Grid,
Durable Functions) and routes requests to the right part."""
from __future__ import annotations

import json
import logging
import threading
from functools import partial
from pathlib import Path

from devstack.host.config import HostConfig
from devstack.host.durable.api import DurableApi
from devstack.host.durable.engine import DurableEngine
from devstack.host.durable.status import WEBHOOK_PATH, client_binding
from devstack.host.eventgrid import deliver as deliver_events
from devstack.host.http_trigger import Reply, find, invoke, route_table
from devstack.host.index import AppIndex
from devstack.host.invoke import EventLoopThread, Invoker
from devstack.host.keys import Keys, key_from
from devstack.host.server import HostServer
from devstack.host.store import HubStore
from devstack.host.timers import TimerRunner
from devstack.host.watcher import BlobWatcher

log = logging.getLogger(__name__)
EVENTGRID_PATH = "/runtime/webhooks/eventgrid"


class Host:
    def __init__(self, index: AppIndex, config: HostConfig, keys: Keys, env: dict[str, str]):
        self.index = index
        self.config = config
        self.keys = keys
        self.max_body_bytes = config.max_body_bytes
        self.loop = EventLoopThread()
        self.server = HostServer(config.port, self)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.store = HubStore(config.storage, config.task_hub)
        self.invoker = Invoker(self.loop, client_binding(
            self.base_url, config.task_hub, keys.system["durabletask_extension"]))
        self._check_client_hubs()
        self.engine = DurableEngine(
            self.store,
            {f.durable_name: f.fn for f in index.of_kind("orchestrationTrigger")},
            {f.durable_name: partial(self.invoker, f) for f in index.of_kind("activityTrigger")},
            config.max_orchestrators, config.max_activities)
        self.durable_api = DurableApi(self.engine, self.base_url, config.task_hub,
                                      keys.system["durabletask_extension"])
        self.routes = route_table(index.of_kind("httpTrigger"), config.route_prefix)
        self.timers = [TimerRunner(f, env, self.store, self.invoker)
                       for f in index.of_kind("timerTrigger")]
        self._check_watch()
        self.watcher = None
        if config.watch:
            endpoint = (f"{self.base_url}{EVENTGRID_PATH}?code="
                        f"{keys.system['eventgrid_extension']}")
            self.watcher = BlobWatcher(config.watch_storage, config.watch, self.store,
                                       endpoint, config.event_schema, config.duplicate_events,
                                       config.poll_seconds, config.delivery_attempts,
                                       Path(config.journal))
        self._serving = threading.Event()

    def _check_client_hubs(self) -> None:
        for f in self.index.functions:
            for b in f.client_bindings:
                hub = b.get("taskHub")
                if hub and hub != self.config.task_hub:
                    raise ValueError(f"function {f.name} binds a durable client to task hub "
                                     f"{hub!r}; this host serves {self.config.task_hub!r}")

    def _check_watch(self) -> None:
        for container, name in self.config.watch.items():
            spec = self.index.by_name(name)
            if spec is None or spec.kind != "eventGridTrigger":
                raise ValueError(f"DEVSTACK_EVENTGRID_WATCH maps container {container!r} to "
                                 f"{name!r}, which is not an Event Grid function of the app")

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> Host:
        self.engine.start()
        if self.watcher:
            self.watcher.subscribe()
        threading.Thread(target=self.server.serve_forever, name="http", daemon=True).start()
        self._serving.set()
        for t in self.timers:
            t.start()
        if self.watcher:
            self.watcher.start()
        return self

    def stop(self) -> None:
        for t in self.timers:
            t.stop()
        if self.watcher:
            self.watcher.stop()
        self.server.shutdown()
        self.server.server_close()
        self.engine.stop()
        self.loop.stop()

    def describe(self) -> list[str]:
        lines = ["Functions:", ""]
        for h in self.routes:
            lines.append(f"\t{h.describe(self.base_url)}  (auth: {h.auth_level})")
        for t in self.timers:
            lines.append(f"\t{t.describe()}")
        for f in self.index.of_kind("eventGridTrigger"):
            lines.append(f"\t{f.name}: eventGridTrigger {self.base_url}{EVENTGRID_PATH}"
                         f"?functionName={f.name}&code={self.keys.system['eventgrid_extension']}")
        for kind in ("orchestrationTrigger", "activityTrigger"):
            for f in self.index.of_kind(kind):
                lines.append(f"\t{f.durable_name}: {kind}")
        for name, why in self.index.skipped:
            lines.append(f"\t{name}: NOT SERVED ({why})")
        lines += ["", "Keys:", f"\tmaster: {self.keys.master}",
                  f"\tfunction (default): {self.keys.function}",
                  f"\tdurabletask_extension: {self.keys.system['durabletask_extension']}",
                  f"\teventgrid_extension: {self.keys.system['eventgrid_extension']}", "",
                  f"Durable API: {self.base_url}{WEBHOOK_PATH}/ "
                  f"(task hub {self.config.task_hub})"]
        if self.config.watch:
            lines.append("Blob watcher: " + ", ".join(
                f"{c} -> {f}" for c, f in self.config.watch.items()))
        return lines

    # --- routing -------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes, raw_query: str = "") -> Reply:
        if path == "/admin/host/ping":
            return Reply(200 if self._serving.is_set() else 503, {})
        if path == "/admin/host/status":
            if not self.keys.allows("admin", key_from(headers, query)):
                return Reply(401, {})
            return _json(200, {"state": "Running", "taskHub": self.config.task_hub,
                               "functions": [f.name for f in self.index.functions]})
        if path == WEBHOOK_PATH or path.startswith(WEBHOOK_PATH + "/"):
            return self._durable(method, path[len(WEBHOOK_PATH):], query, headers, body)
        if path == EVENTGRID_PATH:
            return self._eventgrid(method, query, headers, body)
        h, params = find(self.routes, method, path)
        if h is None:
            return Reply(404, {})
        # The URL as the caller used it (the durable client's check-status links keep its
        # origin, as with the real host).
        origin = f"http://{headers['host']}" if headers.get("host") else self.base_url
        url = f"{origin}{path}" + (f"?{raw_query}" if raw_query else "")
        return invoke(h, self.keys, method, url, headers, query, params, body, self.invoker)

    def _durable(self, method, rest, query, headers, body) -> Reply:
        given = key_from(headers, query)
        # The client binding calls this API without a key, like the real host's local RPC
        # endpoint; a key that is given must be right.
        if given and not self.keys.allows("system", given, "durabletask_extension"):
            return Reply(401, {})
        r = self.durable_api.handle(method, rest, query, body, headers)
        reply = _json(r.status, r.body) if r.body is not None else Reply(r.status, {})
        reply.headers.update(r.headers)
        return reply

    def _eventgrid(self, method, query, headers, body) -> Reply:
        if not self.keys.allows("system", key_from(headers, query), "eventgrid_extension"):
            return Reply(401, {})
        spec = self.index.by_name(query.get("functionName", ""))
        if spec is None or spec.kind != "eventGridTrigger":
            return _json(404, {"error": "no Event Grid function named "
                                        f"{query.get('functionName')!r}", "detail": None})
        return deliver_events(spec, method, headers, body, self.invoker)


def _json(status: int, body) -> Reply:
    return Reply(status, {"Content-Type": "application/json; charset=utf-8"},
                 json.dumps(body).encode())


def keys_path(state_dir: Path) -> Path:
    return state_dir / "keys.json"
