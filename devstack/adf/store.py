"""The emulator's state on disk: factory resources and pipeline runs, one JSON file each.

Everything is written through (atomically, via rename) as it changes, so runs and their
activity records survive an emulator restart. Factories are keyed by resource group and
name (lowercased, as ARM names are case-insensitive); any factory a client names exists.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

KINDS = ("linkedservices", "pipelines", "datasets")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(s: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def factory_key(resource_group: str, factory: str) -> str:
    return f"{resource_group.lower()}/{factory.lower()}"


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


class Store:
    """Resources and runs in memory, mirrored to `state_dir`. Guard mutations with `lock`."""

    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir)
        self.lock = threading.RLock()
        self.resources: dict[str, dict[str, dict[str, dict]]] = {}
        self.runs: dict[str, dict] = {}
        self.frozen = False  # set at shutdown: what is on disk stays as it was
        (self.dir / "runs").mkdir(parents=True, exist_ok=True)
        (self.dir / "factories").mkdir(parents=True, exist_ok=True)
        self._load()

    # --- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        for path in (self.dir / "factories").glob("*.json"):
            data = json.loads(path.read_text())
            self.resources[data["key"]] = data["resources"]
        for path in (self.dir / "runs").glob("*.json"):
            run = json.loads(path.read_text())
            self.runs[run["runId"]] = run

    # --- factory resources ---------------------------------------------------------------
    def factory(self, key: str) -> dict[str, dict[str, dict]]:
        with self.lock:
            return self.resources.setdefault(key, {k: {} for k in KINDS})

    def put_resource(self, key: str, kind: str, name: str, body: dict) -> None:
        with self.lock:
            self.factory(key)[kind][name.lower()] = body
            self._save_factory(key)

    def delete_resource(self, key: str, kind: str, name: str) -> bool:
        with self.lock:
            found = self.factory(key)[kind].pop(name.lower(), None) is not None
            self._save_factory(key)
            return found

    def freeze(self) -> None:
        """Stop writing: after a shutdown the files describe the moment it happened, so the
        next start resumes from there (threads still winding down write nothing)."""
        with self.lock:
            self.frozen = True

    def _save_factory(self, key: str) -> None:
        if self.frozen:
            return
        _write_json(
            self.dir / "factories" / (key.replace("/", "__") + ".json"),
            {"key": key, "resources": self.resources[key]},
        )

    def get_resource(self, key: str, kind: str, name: str) -> dict | None:
        with self.lock:
            return self.factory(key)[kind].get(name.lower())

    def list_resources(self, key: str, kind: str) -> list[dict]:
        with self.lock:
            return list(self.factory(key)[kind].values())

    # --- runs ----------------------------------------------------------------------------
    def save_run(self, run: dict) -> None:
        """Record a change to `run` (call with `lock` held, after mutating it)."""
        with self.lock:
            run["lastUpdated"] = iso(utcnow())
            self.runs[run["runId"]] = run
            if self.frozen:
                return
            _write_json(self.dir / "runs" / f"{run['runId']}.json", run)

    def runs_of(self, key: str) -> list[dict]:
        with self.lock:
            return [r for r in self.runs.values() if r["factory"] == key]
