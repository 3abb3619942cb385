"""infra/ as data: every Bicep file parsed with pycep (a Bicep parser from PyPI), and the
few facts the tests read out of it (app settings, role actions, container role scopes).

pycep keeps interpolated strings as written ('https://${x}') and writes a reference to a
parameter or variable as its bare name, so the helpers resolve only the shapes the
template uses on purpose: object literals, `cond ? {...} : {}`, property access."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"


@cache
def parse(path: Path) -> dict:
    from pycep import BicepParser

    return BicepParser().parse(file_path=Path(path))


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


def variable(path: Path, name: str):
    return parse(path)["variables"][name]["value"]


def object_keys(value) -> dict:
    """An object literal, or the union of both branches of `cond ? {...} : {...}`."""
    if isinstance(value, dict) and "operator" in value:
        op = value["operator"]
        if op["type"] == "conditional":
            return {**object_keys(op["operands"]["true_value"]),
                    **object_keys(op["operands"]["false_value"])}
        raise ValueError(f"not an object literal: {json.dumps(value)[:200]}")
    if isinstance(value, dict) and "function" not in value:
        return value
    raise ValueError(f"not an object literal: {json.dumps(value)[:200]}")


def app_settings() -> dict[str, str]:
    """Every app setting the template sets for the app itself (main.bicep: appSettings and
    the sink settings switched on by parameters)."""
    out = dict(object_keys(variable(MAIN, "appSettings")))
    for name in ("teamsSettings", "slackSettings", "webhookSettings"):
        out.update(object_keys(variable(MAIN, name)))
    return out


def host_settings() -> dict[str, str]:
    """Settings for the Functions host (main.bicep hostSettings, the plan's own)."""
    out = dict(object_keys(variable(MAIN, "hostSettings")))
    out.update(object_keys(variable(INFRA / "modules" / "functionapp.bicep", "planSettings")))
    return out


def dev_parameters() -> dict:
    doc = json.loads((INFRA / "main.parameters.dev.json").read_text())
    return {k: v["value"] for k, v in doc["parameters"].items()}


def accessor(value) -> tuple[str, ...] | None:
    """`a.b.c` as ("a", "b", "c"), or None."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        ops = value["operator"]["operands"]
        head, tail = accessor(ops["operand_1"]), accessor(ops["operand_2"])
        return None if head is None or tail is None else head + tail
    return None


def roles_module() -> Path:
    return INFRA / "modules" / "roles.bicep"


def role_actions(var_name: str) -> set[str]:
    """A custom role's actions (roles.bicep runtimeFactoryActions / deployFactoryActions)."""
    return set(variable(roles_module(), var_name))


def container_names() -> dict[str, str]:
    """roles.bicep container parameters -> the container names main.bicep passes."""
    main = parse(MAIN)
    containers = main["variables"]["containers"]["value"]
    storage = parse(INFRA / "modules" / "storage.bicep")
    out = {}
    for param, arg in main["modules"]["roles"]["config"]["params"].items():
        if not param.endswith("Container"):
            continue
        path = accessor(arg)
        if path and path[0] == "containers":
            out[param] = containers[path[1]]
        elif path and path[:2] == ("storage", "outputs"):
            output = storage["outputs"][path[2]]["value"]
            out[param] = storage["parameters"][output]["default"]
        else:
            raise ValueError(f"roles.{param}: cannot resolve {arg!r}")
    return out


ROLE_NAMES = {
    "blobReader": "Storage Blob Data Reader",
    "blobContributor": "Storage Blob Data Contributor",
}


def container_roles(who: str) -> dict[str, str]:
    """{container name: built-in role name} that roles.bicep gives `who` (runtime, batch,
    factory) on the data account's containers."""
    names = container_names()
    out = {}
    for row in variable(roles_module(), "dataContainerRoles"):
        if row["who"] != who:
            continue
        role = accessor(row["role"])
        out[names[row["container"]]] = ROLE_NAMES[role[1]]
    return out
