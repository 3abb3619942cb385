"""The stand-in's configuration: `local.settings.json` (its `Values` become the process
environment before the app is imported, as with `func start`), `host.json` (route prefix,
task hub, Durable concurrency) with `%NAME%` resolved from settings, and the
DEVSTACK_-prefixed settings that only the stand-in reads."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 7071
DEFAULT_TASK_HUB = "TestHubName"  # what the real host uses locally when none is configured
DEFAULT_MAX_BODY = 100 * 1024 * 1024  # the Functions host's default request body limit
_PERCENT = re.compile(r"%([A-Za-z_][A-Za-z0-9_.:-]*)%")
TASK_HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")


class ConfigError(ValueError):
    """A setting or host.json value is missing or invalid; the message names it."""


def read_settings_file(path: Path) -> dict[str, str]:
    """`Values` of a local.settings.json file, as strings."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"settings file {path} does not exist") from None
    except ValueError as exc:
        raise ConfigError(f"settings file {path} is not valid JSON: {exc}") from None
    values = doc.get("Values")
    if not isinstance(values, dict):
        raise ConfigError(f"settings file {path} has no \"Values\" object")
    if doc.get("IsEncrypted"):
        raise ConfigError(f"settings file {path} is encrypted; the devstack host needs "
                          "plain values")
    return {str(k): "" if v is None else str(v) for k, v in values.items()}


def resolve(value: str, env: dict[str, str], where: str) -> str:
    """Replace `%NAME%` with the setting NAME, or fail naming it."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name not in env:
            raise ConfigError(f"{where} refers to %{name}%, but the setting {name} is not set")
        return env[name]

    return _PERCENT.sub(sub, value)


def _number(env: dict[str, str], name: str, default, cast=int, minimum=1):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "an integer" if cast is int else "a number"
        raise ConfigError(f"{name} must be {kind} (got {raw!r})") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum} (got {value})")
    return value


def parse_watch(raw: str) -> dict[str, str]:
    """DEVSTACK_EVENTGRID_WATCH: `container=function,container2=function2`."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        container, sep, function = (s.strip() for s in part.partition("="))
        if not sep or not container or not function:
            raise ConfigError("DEVSTACK_EVENTGRID_WATCH must be a comma-separated list of "
                              f"container=function (got {part!r})")
        out[container] = function
    return out


@dataclass
class HostConfig:
    port: int = DEFAULT_PORT
    route_prefix: str = "api"
    task_hub: str = DEFAULT_TASK_HUB
    storage: str = ""
    max_orchestrators: int = 8
    max_activities: int = 8
    max_body_bytes: int = DEFAULT_MAX_BODY
    watch: dict[str, str] = field(default_factory=dict)
    watch_storage: str = ""
    journal: str = ""  # the blob writes journal Azurite appends to (devstack/azurite.py)
    duplicate_events: bool = False
    poll_seconds: float = 2.0
    event_schema: str = "EventGridSchema"
    delivery_attempts: int = 5

    @classmethod
    def load(cls, env: dict[str, str], host_json: Path | None, port: int | None) -> HostConfig:
        doc = {}
        if host_json is not None and host_json.exists():
            try:
                doc = json.loads(host_json.read_text())
            except ValueError as exc:
                raise ConfigError(f"{host_json} is not valid JSON: {exc}") from None
        ext = doc.get("extensions") or {}
        durable = ext.get("durableTask") or {}
        http = ext.get("http") or {}
        hub = resolve(str(durable.get("hubName") or env.get("TASK_HUB_NAME")
                          or DEFAULT_TASK_HUB), env, "host.json extensions.durableTask.hubName")
        if not TASK_HUB_PATTERN.match(hub):
            raise ConfigError(f"task hub name {hub!r} (TASK_HUB_NAME) must be 3-45 letters or "
                              "digits, starting with a letter")
        schema = env.get("DEVSTACK_EVENTGRID_SCHEMA") or "EventGridSchema"
        if schema not in ("EventGridSchema", "CloudEventSchemaV1_0"):
            raise ConfigError("DEVSTACK_EVENTGRID_SCHEMA must be EventGridSchema or "
                              f"CloudEventSchemaV1_0 (got {schema!r})")
        storage = env.get("AzureWebJobsStorage", "")
        watch = parse_watch(env.get("DEVSTACK_EVENTGRID_WATCH", ""))
        journal = env.get("DEVSTACK_EVENTGRID_JOURNAL", "")
        if watch and not journal:
            raise ConfigError("DEVSTACK_EVENTGRID_WATCH needs DEVSTACK_EVENTGRID_JOURNAL: the "
                              "blob writes journal of an Azurite started by devstack "
                              "(<its location>/blob-writes.jsonl)")
        return cls(
            port=DEFAULT_PORT if port is None else port,
            route_prefix=str(http.get("routePrefix", "api")).strip("/"),
            task_hub=hub,
            storage=storage,
            max_orchestrators=int(durable.get("maxConcurrentOrchestratorFunctions", 8)),
            max_activities=int(durable.get("maxConcurrentActivityFunctions", 8)),
            max_body_bytes=_number(env, "DEVSTACK_HOST_MAX_BODY_BYTES", DEFAULT_MAX_BODY),
            watch=watch,
            journal=journal,
            watch_storage=env.get("STORAGE_CONNECTION_STRING") or storage,
            duplicate_events=env.get("DEVSTACK_EVENTGRID_DUPLICATE", "").lower() == "true",
            poll_seconds=_number(env, "DEVSTACK_EVENTGRID_POLL_SECONDS", 2.0, float, 0.05),
            event_schema=schema,
            delivery_attempts=_number(env, "DEVSTACK_EVENTGRID_MAX_ATTEMPTS", 5),
        )


def apply_settings(values: dict[str, str]) -> None:
    """Settings file values win over the inherited environment, so a run is reproducible."""
    os.environ.update(values)
