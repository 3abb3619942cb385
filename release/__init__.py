"""`python -m release`: what a release pipeline runs after the template.

1. Upload the training package (`training.package`: content-hashed, idempotent) to the ML
   container, so the app's CODE_VERSION=latest names it.
2. Deploy `adf/` to the factory through the app's own client (`AdfClient.deploy`, as the
   local stack deploys it), with the environment's names swapped in: the template's
   `adfOverrides` output, deep-merged into each definition's `properties` the way ARM's
   `union()` merges them in infra/modules/datafactory.bicep.
3. Print what changed: each linked service and pipeline created, updated or unchanged
   (unchanged ones are not written), and the code version before and after.

Against Azure it runs as the release identity (the template's deploy role: read and write
pipelines and linked services; write on the ML container's code/ prefix); locally against
the emulator and Azurite with the same code.
"""
from __future__ import annotations

import copy
import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("release")

ROOT = Path(__file__).resolve().parents[1]
ADF_ROOT = ROOT / "adf"
# Folder in adf/ -> key in the overrides -> the SDK's operations and model.
KINDS = (
    ("linkedService", "linked_services", "LinkedServiceResource"),
    ("dataset", "datasets", "DatasetResource"),
    ("pipeline", "pipelines", "PipelineResource"),
)


def merge(base, override):
    """ARM `union()` for objects: nested objects merge key by key, anything else (arrays,
    scalars) is replaced by the override."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


@dataclass
class Definition:
    folder: str  # linkedService | dataset | pipeline
    name: str
    document: dict  # ADF git-integration JSON, overrides applied

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}.json"


def plan(adf_root: Path, overrides: dict | None = None) -> list[Definition]:
    """Every definition under adf_root with its overrides applied. An override naming a
    definition that does not exist is an error (a renamed file must not go unnoticed)."""
    overrides = overrides or {}
    out, seen = [], set()
    for folder, _, _ in KINDS:
        for path in sorted((Path(adf_root) / folder).glob("*.json")):
            doc = json.loads(path.read_text())
            name = doc.get("name") or path.stem
            extra = (overrides.get(folder) or {}).get(name)
            if extra:
                doc = {**doc, "properties": merge(doc["properties"], extra)}
            out.append(Definition(folder, name, doc))
            seen.add((folder, name))
    unknown = sorted(f"{folder}/{name}" for folder, names in overrides.items()
                     for name in names or {} if (folder, name) not in seen)
    if unknown:
        raise ValueError(f"overrides name definitions that are not in {adf_root}: "
                         + ", ".join(unknown))
    return out


def _normal(model_cls, document: dict) -> dict:
    """A definition as the SDK model serializes it (so a stored one and a file compare)."""
    return model_cls.deserialize({"name": document.get("name"),
                                  "properties": document["properties"]}).serialize()


@dataclass
class Report:
    definitions: list[dict] = field(default_factory=list)  # {kind, name, change}
    code: dict = field(default_factory=dict)  # {version, before, uploaded}

    @property
    def changed(self) -> bool:
        return bool(self.code.get("uploaded")) or any(
            d["change"] != "unchanged" for d in self.definitions)

    def lines(self) -> list[str]:
        out = [f"{d['kind']:<14} {d['name']:<24} {d['change']}" for d in self.definitions]
        code = self.code
        if code:
            moved = (f"{code['before'] or '(none)'} -> {code['version']}"
                     if code["before"] != code["version"] else f"{code['version']} (unchanged)")
            out.append(f"{'code':<14} {'training.zip':<24} "
                       f"{'uploaded' if code['uploaded'] else 'already uploaded'}; "
                       f"current {moved}")
        return out


def diff(adf, definitions: list[Definition]) -> list[tuple[Definition, str]]:
    """(definition, created|updated|unchanged) against what the factory holds (reads only)."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.datafactory import models

    ops_of = {folder: (ops, getattr(models, model)) for folder, ops, model in KINDS}
    out = []
    for d in definitions:
        ops_name, model_cls = ops_of[d.folder]
        ops = getattr(adf.mgmt, ops_name)
        try:
            current = ops.get(adf.rg, adf.factory, d.name)
        except ResourceNotFoundError:
            current = None
        if current is None:
            change = "created"
        else:
            stored = current.serialize()
            wanted = _normal(model_cls, d.document)
            change = "unchanged" if stored.get("properties") == wanted.get("properties") \
                else "updated"
        out.append((d, change))
    return out


def deploy_changed(adf, changed: list[Definition]) -> dict:
    """Write the changed definitions through `AdfClient.deploy` (the local stack's path)."""
    if not changed:
        return {}
    with tempfile.TemporaryDirectory(prefix="release-adf-") as tmp:
        for d in changed:
            path = Path(tmp) / d.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(d.document, indent=1))
        return adf.deploy(Path(tmp))


def upload_code(blob_service, ml_container: str, dry_run: bool = False) -> dict:
    """The training package: upload unless this version is already complete."""
    from azure.core.exceptions import ResourceNotFoundError

    from training.package import build_package, upload_package

    package = build_package()
    container = blob_service.get_container_client(ml_container)

    def read(name):
        try:
            return json.loads(container.get_blob_client(name).download_blob().readall())
        except ResourceNotFoundError:
            return None

    before = (read("code/current.json") or {}).get("version")
    present = read(f"code/{package.version}/package.json") is not None
    if not dry_run:
        upload_package(blob_service, ml_container, package)
    return {"version": package.version, "before": before, "uploaded": not present}


def release(adf, blob_service, ml_container: str, adf_root: Path = ADF_ROOT,
            overrides: dict | None = None, dry_run: bool = False) -> Report:
    """Upload the code, deploy what changed in adf_root; the report says what changed."""
    report = Report()
    report.code = upload_code(blob_service, ml_container, dry_run)
    planned = diff(adf, plan(adf_root, overrides))
    report.definitions = [{"kind": d.folder, "name": d.name, "change": change}
                          for d, change in planned]
    if not dry_run:
        deploy_changed(adf, [d for d, change in planned if change != "unchanged"])
    return report
