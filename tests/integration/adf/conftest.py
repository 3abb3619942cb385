"""Fixtures: one emulator per session (in-process) on the session's Azurite, and per test a
fresh factory name with the app's real ADF client pointed at it over HTTPS."""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from devstack.adf import Emulator

LINKED_SERVICES = {
    "StorageLS": {"type": "AzureBlobStorage", "typeProperties": {
        "serviceEndpoint": "https://stadfmlglue.blob.core.windows.net/",
        "accountKind": "StorageV2"}},
    "BatchLS": {"type": "AzureBatch", "typeProperties": {
        "accountName": "batchadfmlglue", "batchUri": "https://batchadfmlglue.westeurope.batch.azure.com",
        "poolName": "ml-pool",
        "linkedServiceName": {"referenceName": "StorageLS", "type": "LinkedServiceReference"}}},
}


@pytest.fixture(scope="session")
def emulator(azurite, tmp_path_factory):
    emu = Emulator(tmp_path_factory.mktemp("adf-emulator"), azurite.connection_string).start()
    yield emu
    emu.stop()


@pytest.fixture
def adf_env(app_env, settings_env, emulator):
    """App settings for a factory of its own on the session emulator."""
    env = {
        "ADF_ENDPOINT": emulator.endpoint,
        "ADF_CA_BUNDLE": str(emulator.ca_file),
        "ADF_FACTORY_NAME": f"adf-test-{uuid.uuid4().hex[:8]}",
        "ADF_RETRY_BACKOFF_SECONDS": "0.05",
        "ADF_RETRY_MAX_SECONDS": "2",
    }
    for k, v in env.items():
        settings_env.setenv(k, v)
    return {**app_env, **env}


@pytest.fixture
def adf(adf_env):
    from shared.services import get_services

    return get_services().adf


def custom(name: str, command: str, *, folder: str | None = None, depends=None,
           policy: dict | None = None, extended: dict | None = None) -> dict:
    """A Custom activity in ADF's JSON (folderPath from the mlContainer/codeVersion params
    when `folder` is "code")."""
    tp: dict = {"command": command}
    if folder:
        tp["resourceLinkedService"] = {"referenceName": "StorageLS",
                                       "type": "LinkedServiceReference"}
        tp["folderPath"] = folder
    if extended:
        tp["extendedProperties"] = extended
    act = {"name": name, "type": "Custom", "typeProperties": tp,
           "linkedServiceName": {"referenceName": "BatchLS", "type": "LinkedServiceReference"},
           "dependsOn": [{"activity": d, "dependencyConditions": ["Succeeded"]}
                         if isinstance(d, str) else d for d in depends or []]}
    if policy:
        act["policy"] = policy
    return act


def write_definitions(root: Path, pipelines: dict[str, dict]) -> Path:
    """ADF git-integration layout under `root`: linkedService/*.json, pipeline/*.json.
    `pipelines`: name -> properties."""
    (root / "linkedService").mkdir(parents=True, exist_ok=True)
    (root / "pipeline").mkdir(parents=True, exist_ok=True)
    for name, props in LINKED_SERVICES.items():
        (root / "linkedService" / f"{name}.json").write_text(
            json.dumps({"name": name, "properties": props}))
    for name, props in pipelines.items():
        (root / "pipeline" / f"{name}.json").write_text(
            json.dumps({"name": name, "properties": props}))
    return root


def pipeline(activities: list[dict], parameters: dict | None = None, **extra) -> dict:
    params = {"batchId": {"type": "string"}, **(parameters or {})}
    return {"activities": activities, "parameters": params, **extra}


@pytest.fixture
def deploy(adf, tmp_path):
    """deploy(name=properties, ...) -> what AdfClient.deploy returned."""
    def _deploy(**pipelines):
        return adf.deploy(write_definitions(tmp_path / f"adf-{uuid.uuid4().hex[:6]}", pipelines))
    return _deploy


def wait_for(adf, run_id: str, statuses=("succeeded", "failed", "cancelled"),
             timeout: float = 60.0, stage: str | None = None) -> dict:
    """Poll run_status until the run reaches one of `statuses` (and `stage`, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        status = adf.run_status(run_id)
        if status["status"] in statuses and (stage is None or status["stage"] == stage):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} still {status['status']} after {timeout}s: "
                                 f"{json.dumps(status, indent=1)[:3000]}")
        time.sleep(0.1)


def window(hours: float = 1.0):
    """A RunFilterParameters covering the last and next `hours`."""
    import datetime as dt

    from azure.mgmt.datafactory.models import RunFilterParameters

    now = dt.datetime.now(dt.UTC)
    return RunFilterParameters(last_updated_after=now - dt.timedelta(hours=hours),
                               last_updated_before=now + dt.timedelta(hours=hours))
