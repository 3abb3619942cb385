"""Least privilege proven from behaviour. The whole local stack runs the app's flows (an
event-started run, a manual start, status and activity queries while it runs, a failed
run rerun from its failure, a cancel, /api/health), while the Data Factory emulator logs
every call as the RBAC operation a real factory checks and a proxy in front of Azurite's
Blob service records every storage call the app makes. Then:

- the runtime role's actions (infra/modules/roles.bicep runtimeFactoryActions) are exactly
  the operations the app used: a role action never used fails, and so does a use the role
  does not allow;
- per container, the app's storage use (read, or write) is exactly the container-scoped
  role the template gives the runtime identity, and it touches no other container.
(The release command's operations against the deploy role: tests/integration/test_release.py.)
"""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
import requests

from devstack.api_client import AppClient
from devstack.stack import LocalStack
from tests.e2e.conftest import FAST
from tests.e2e.storage_proxy import BlobProxy
from tests.infra import bicep

pytestmark = pytest.mark.slow

ROLE_ALLOWS = {"Storage Blob Data Reader": "read", "Storage Blob Data Contributor": "write"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Run the flows on a stack whose app reaches storage through the recording proxy;
    {"arm": [...], "storage": [...], "settings": {...}}."""
    saved = dict(os.environ)
    stack = LocalStack(tmp_path_factory.mktemp("least-privilege"), overrides=dict(FAST))
    proxy = BlobProxy(stack.azurite.blob_port).start()
    stack.overrides["STORAGE_CONNECTION_STRING"] = proxy.connection_string(
        stack.azurite.connection_string)
    try:
        stack.start()
        yield run_flows(stack, proxy)
    finally:
        stack.stop()
        proxy.stop()
        os.environ.clear()
        os.environ.update(saved)


def run_flows(stack: LocalStack, proxy: BlobProxy) -> dict:
    from azure.storage.blob import BlobServiceClient

    from training.generate import upload_batch

    settings = stack.settings()
    direct = BlobServiceClient.from_connection_string(stack.azurite.connection_string)
    # In Azure the template creates the containers: the app only ever finds them.
    for name in ("LANDING_CONTAINER", "STATE_CONTAINER", "ML_CONTAINER"):
        client = direct.get_container_client(settings[name])
        if not client.exists():
            client.create_container()
    emulator = f"{stack.emulator.endpoint}/_emulator/operations"
    ca = str(stack.emulator.ca_file)
    requests.delete(emulator, verify=ca, timeout=10).raise_for_status()  # deploy was a release
    proxy.clear()
    api = AppClient(stack.host.base_url, stack.host.function_key)

    def land(kind, rows, seed, name):  # the test's uploads bypass the proxy
        return upload_batch(kind, rows, seed=seed, name=name, service=direct,
                            container=settings["LANDING_CONTAINER"])

    # /api/health: storage, the factory, the sinks
    assert api.request("GET", "health").status_code in (200, 503)

    # an event-started run whose training fails fast (Preprocess runs, Train refuses epochs -1
    # from TRAIN_OPTIONS?) -- here a manual start with the options, then a rerun from failure
    failing = land("labelled", 200, 11, "lp-fails")
    r = api.request("POST", "runs", json={"files": [failing], "trainOptions": {"epochs": -1}})
    assert r.status_code == 202, (failing, r.text)
    batch = r.json()["runs"][0]["batchId"]
    run = api.wait_for_run(batch, timeout=240)
    assert run["status"] == "failed", run
    r = api.request("POST", f"runs/{batch}/rerun")
    assert r.status_code == 202, r.text
    again = api.wait_for_rerun(batch, 2, timeout=240)
    assert again["status"] == "failed"

    # a run cancelled while it runs (status and activity queries meanwhile)
    cancelled = land("labelled", 600, 12, "lp-cancel")
    batch = api.start({"files": [cancelled]})["runs"][0]["batchId"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = api.run(batch) or {}
        if record.get("adfRunIds") and record.get("status") == "running":
            break
        time.sleep(0.2)
    r = api.request("POST", f"runs/{batch}/cancel")
    assert r.status_code == 202, r.text
    assert api.wait_for_run(batch, timeout=180)["status"] == "cancelled"

    # an event-started score run (the Event Grid stand-in delivers BlobCreated)
    scored = land("unlabelled", 120, 13, "lp-event")
    (event_run,) = api.wait_for_runs_of([scored], timeout=240)
    assert event_run["status"] in ("succeeded", "failed")
    time.sleep(1.0)  # let the monitor and the last polls finish their calls

    factory = settings["ADF_FACTORY_NAME"]
    arm = requests.get(emulator, params={"factory": factory}, verify=ca, timeout=10).json()
    return {"arm": arm["value"], "storage": proxy.snapshot(), "settings": settings,
            "at": datetime.now(UTC)}


def test_the_runtime_role_allows_exactly_what_the_app_did(recorded):
    used = {o["operation"] for o in recorded["arm"]}
    assert None not in used, [o for o in recorded["arm"] if o["operation"] is None]
    role = bicep.role_actions("runtimeFactoryActions")
    assert sorted(used - role) == [], "the app used operations its role does not allow"
    assert sorted(role - used) == [], "the role allows operations the app never used"


def test_every_flow_left_its_operations(recorded):
    used = [o["operation"].rsplit("factories/", 1)[1] for o in recorded["arm"]]
    for op in ("read", "pipelines/createrun/action", "pipelineruns/read",
               "pipelineruns/cancel/action", "querypipelineruns/action",
               "pipelineruns/queryactivityruns/action"):
        assert op in used
    assert used.count("pipelines/createrun/action") >= 4  # 3 starts and a rerun


def test_container_roles_match_the_apps_storage_use(recorded):
    settings = recorded["settings"]
    role_name = {settings["LANDING_CONTAINER"]: "landing",
                 settings["STATE_CONTAINER"]: "glue-state",
                 settings["ML_CONTAINER"]: "ml-data"}
    calls = recorded["storage"]
    assert calls, "the proxy saw no storage call"
    account_level = {f"{c['method']} {c['path']}" for c in calls if c["container"] is None}
    # No container-scoped role allows an account-level call (health probes its container).
    assert account_level == set(), "the app used the account, not a container"
    calls = [c for c in calls if c["container"] is not None]
    outside = sorted({c["container"] for c in calls} - set(role_name))
    assert outside == [], "the app used containers it has no role on"
    used: dict[str, str] = {}
    for c in calls:
        name = role_name[c["container"]]
        level = "read" if c["kind"] == "read" else "write"
        if used.get(name) != "write":
            used[name] = level
    declared = {c: ROLE_ALLOWS[r] for c, r in bicep.container_roles("runtime").items()}
    assert used == declared
    # ... and the role condition holds: the app writes ml-data only under reporting/
    ml = settings["ML_CONTAINER"]
    ml_writes = [c["path"] for c in calls if c["container"] == ml and c["kind"] != "read"]
    assert ml_writes and all(f"/{ml}/reporting/" in p for p in ml_writes), ml_writes
    # the landing zone is read by the app itself (claims read each file's properties), not
    # only listed by the Event Grid stand-in that shares the connection
    landing = [c for c in calls if c["container"] == settings["LANDING_CONTAINER"]]
    assert any("comp=list" not in c["path"] and "/lp-" in c["path"] for c in landing)


def test_the_app_never_creates_a_container(recorded):
    assert [c for c in recorded["storage"] if c["kind"] == "create-container"] == []
