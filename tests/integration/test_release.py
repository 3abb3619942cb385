"""`python -m release` against the Data Factory emulator and Azurite: it uploads the training
package, deploys adf/ with the template's overrides (the `adfOverrides` object of
infra/modules/datafactory.bicep, leaves filled with this environment's values), prints what
changed, writes nothing when nothing changed, and uses exactly the deploy role's actions."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devstack.adf import Emulator
from release import plan
from release.__main__ import main
from tests.infra import bicep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emulator(azurite, tmp_path_factory):
    emu = Emulator(tmp_path_factory.mktemp("adf-release"), azurite.connection_string).start()
    yield emu
    emu.stop()


def _fill(template, variables, path=()):
    """The template's adfOverrides with each leaf (a Bicep expression) replaced by a value
    naming where it goes; a reference to another variable is followed."""
    if isinstance(template, str) and template in variables:
        return _fill(variables[template]["value"], variables, path)
    if isinstance(template, dict) and "operator" not in template and "function" not in template:
        return {k: _fill(v, variables, path + (k,)) for k, v in template.items()}
    if path[-1] == "type":
        return template  # a literal ('string')
    return "https://test.example/" + "/".join(path[-2:]) + "/"


@pytest.fixture
def overrides():
    variables = bicep.parse(bicep.INFRA / "modules" / "datafactory.bicep")["variables"]
    return _fill(variables["adfOverrides"]["value"], variables)


@pytest.fixture
def target(azurite, emulator, tmp_path, overrides):
    suffix = uuid.uuid4().hex[:8]
    values = {
        "STORAGE_CONNECTION_STRING": azurite.connection_string,
        "ML_CONTAINER": f"ml-{suffix}",
        "ADF_ENDPOINT": emulator.endpoint,
        "ADF_CA_BUNDLE": str(emulator.ca_file),
        "ADF_RESOURCE_GROUP": "rg-release",
        "ADF_FACTORY_NAME": f"adf-release-{suffix}",
        "ADF_RETRY_BACKOFF_SECONDS": "0.05",
    }
    settings = tmp_path / "local.settings.json"
    settings.write_text(json.dumps({"Values": values}))
    outputs = tmp_path / "outputs.json"  # as `az deployment group create --query properties.outputs`
    outputs.write_text(json.dumps({"adfOverrides": {"type": "Object", "value": overrides},
                                   "factoryName": {"type": "String",
                                                   "value": values["ADF_FACTORY_NAME"]}}))
    return {"values": values, "args": ["--settings", str(settings), "--outputs", str(outputs)]}


def _ops(emulator, factory):
    return emulator.api.operations_of(factory)


def _run(target, *extra, capsys):
    assert main([*target["args"], "--json", *extra], environ={}) == 0
    return json.loads(capsys.readouterr().out)


def test_release_deploys_uploads_and_says_what_changed(target, emulator, azurite, overrides,
                                                        capsys):
    from azure.storage.blob import BlobServiceClient

    from training.package import build_package

    factory = target["values"]["ADF_FACTORY_NAME"]
    first = _run(target, capsys=capsys)
    names = {(d["kind"], d["name"]): d["change"] for d in first["definitions"]}
    on_disk = {(p.parent.name, json.loads(p.read_text())["name"])
               for p in (ROOT / "adf").rglob("*.json")}
    assert set(names) == on_disk and set(names.values()) == {"created"}
    version = build_package().version
    assert first["code"] == {"version": version, "before": None, "uploaded": True}
    assert first["changed"] is True

    # deployed with the overrides merged in, everything else as in adf/
    store = emulator.api.store
    from devstack.adf.store import factory_key
    key = factory_key("rg-release", factory)
    batch = store.get_resource(key, "linkedservices", "ls_batch")["properties"]
    want = overrides["linkedService"]["ls_batch"]["typeProperties"]
    assert {k: batch["typeProperties"][k] for k in want} == want
    source = json.loads((ROOT / "adf/linkedService/ls_batch.json").read_text())["properties"]
    assert batch["typeProperties"]["accessKey"] == source["typeProperties"]["accessKey"]
    pipe = store.get_resource(key, "pipelines", "train_and_score")["properties"]
    assert pipe["parameters"]["storageAccountUrl"]["defaultValue"] == (
        overrides["pipeline"]["train_and_score"]["parameters"]["storageAccountUrl"]
        ["defaultValue"])
    assert pipe["parameters"]["batchId"] == {"type": "string"}
    assert len(pipe["activities"]) == 3

    ml = BlobServiceClient.from_connection_string(azurite.connection_string) \
        .get_container_client(target["values"]["ML_CONTAINER"])
    assert ml.get_blob_client(f"code/{version}/training.zip").exists()
    assert json.loads(ml.get_blob_client("code/current.json").download_blob().readall())[
        "version"] == version

    writes = [o for o in _ops(emulator, factory) if o["operation"].endswith("/write")]
    assert len(writes) == len(on_disk)

    # again: nothing changed, nothing written
    second = _run(target, capsys=capsys)
    assert {d["change"] for d in second["definitions"]} == {"unchanged"}
    assert second["code"]["uploaded"] is False and second["changed"] is False
    assert [o for o in _ops(emulator, factory) if o["operation"].endswith("/write")] == writes


def test_one_changed_pipeline_is_the_only_write(target, emulator, tmp_path, capsys):
    factory = target["values"]["ADF_FACTORY_NAME"]
    _run(target, capsys=capsys)
    root = tmp_path / "adf"
    shutil.copytree(ROOT / "adf", root)
    path = root / "pipeline" / "score_only.json"
    doc = json.loads(path.read_text())
    doc["properties"]["description"] += " (changed)"
    path.write_text(json.dumps(doc))
    before = len(_ops(emulator, factory))

    dry = _run(target, "--adf-root", str(root), "--dry-run", capsys=capsys)
    changes = {d["name"]: d["change"] for d in dry["definitions"]}
    assert changes.pop("score_only") == "updated" and set(changes.values()) == {"unchanged"}
    assert [o for o in _ops(emulator, factory)[before:] if o["operation"].endswith("/write")] == []

    _run(target, "--adf-root", str(root), capsys=capsys)
    writes = [o for o in _ops(emulator, factory)[before:] if o["operation"].endswith("/write")]
    assert [o["path"].rsplit("/", 1)[1] for o in writes] == ["score_only"]


def test_release_uses_exactly_the_deploy_roles_actions(target, emulator, tmp_path, capsys):
    """Created, unchanged and updated runs together: every operation the release made is
    one the deploy role allows, and the role allows nothing the release did not use."""
    factory = target["values"]["ADF_FACTORY_NAME"]
    _run(target, capsys=capsys)
    _run(target, capsys=capsys)
    ops = _ops(emulator, factory)
    assert None not in {o["operation"] for o in ops}
    assert {o["operation"] for o in ops} == bicep.role_actions("deployFactoryActions")
    runtime = bicep.role_actions("runtimeFactoryActions")
    assert not {o["operation"] for o in ops} & runtime


def test_python_m_release_is_the_command(target, tmp_path):
    """The command the deploy workflow runs, as a process: prints the report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADF_", "STORAGE_"))}
    proc = subprocess.run([sys.executable, "-m", "release", *target["args"], "--dry-run"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "dry run, nothing written" in proc.stdout
    assert "train_and_score" in proc.stdout and "created" in proc.stdout
    assert "training.zip" in proc.stdout


def test_an_override_for_a_definition_that_does_not_exist_is_refused(overrides):
    bad = {**overrides, "pipeline": {**overrides["pipeline"], "renamed": {"description": "x"}}}
    with pytest.raises(ValueError, match="pipeline/renamed"):
        plan(ROOT / "adf", bad)
