"""Fixtures for running the training programs for real against Azurite, the way Azure
Batch does: the code package in a fresh working directory, `activity.json` next to it,
`python -m training.<program>`, then `outputs.json`."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from training.blobs import Store
from training.package import build_package


@dataclass
class Result:
    code: int
    outputs: dict | None
    stderr: str


@dataclass
class MLEnv:
    conn: str
    landing: str
    state: str
    ml: str
    store: Store
    root: Path

    def manifest(self, batch_id: str, kind: str, blob_names: list[str]) -> str:
        """Write a batch manifest as landing-zone detection does; returns manifestPath."""
        files = []
        for name in blob_names:
            props = self.store.blob(self.landing, name).get_blob_properties()
            files.append({"name": name, "size": props.size, "etag": props.etag,
                          "lastModified": props.last_modified.isoformat()})
        doc = {"batchId": batch_id, "kind": kind, "container": self.landing,
               "createdAt": dt.datetime.now(dt.UTC).isoformat(), "files": files}
        self.store.write_json(self.state, f"manifests/{batch_id}.json", doc)
        return f"{self.state}/manifests/{batch_id}.json"

    def run(self, program: str, **params) -> Result:
        """Run one program in a fresh working directory holding the code package and an
        activity.json with `params` as extendedProperties (as ADF writes them)."""
        wd = self.root / f"{program}-{uuid.uuid4().hex[:6]}"
        for name, data in build_package().files:
            (wd / name).parent.mkdir(parents=True, exist_ok=True)
            (wd / name).write_bytes(data)
        props = {"mlContainer": self.ml, "codeVersion": "test", "runId": str(uuid.uuid4()), **params}
        activity = {"name": program.title(), "type": "Custom", "typeProperties": {
            "command": f"python -m training.{program}", "extendedProperties": props}}
        (wd / "activity.json").write_text(json.dumps(activity))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["STORAGE_CONNECTION_STRING"] = self.conn
        proc = subprocess.run([sys.executable, "-m", f"training.{program}"], cwd=wd, env=env,
                              capture_output=True, text=True, timeout=300)
        out = wd / "outputs.json"
        return Result(proc.returncode, json.loads(out.read_text()) if out.exists() else None,
                      proc.stderr)


@pytest.fixture
def ml_env(azurite, tmp_path) -> MLEnv:
    from azure.storage.blob import BlobServiceClient

    suffix = uuid.uuid4().hex[:8]
    store = Store(BlobServiceClient.from_connection_string(azurite.connection_string))
    return MLEnv(azurite.connection_string, f"landing-{suffix}", f"state-{suffix}",
                 f"ml-{suffix}", store, tmp_path)
