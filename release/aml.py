"""The Azure ML side of a release: publish the current champion to the batch endpoint.

`python -m release --aml-workspace <ws>` (after the Data Factory part) reads
`models/champion.json` from the ML container and, when the endpoint's deployment does not
serve that model yet: registers `model.keras` as model `adf-ml-glue-digits`, version = the
champion's version (once: a registered version is reused), stages the training package as
the deployment's code, creates or updates the deployment from `infra/aml/deployment.yml`
with the model and code filled in, and makes it the endpoint's default. When it already
serves the champion nothing is written. Endpoint, environment, compute and datastore come
from the other files of `infra/aml/` and are created when missing.

The definitions are plain YAML (the CLI's schema: `az ml batch-deployment create -f` takes
the same files). `azure-ai-ml` is an optional dependency of this release tooling only: it
is imported by `AzureMLWorkspace`, never by the Function App. Everything else here works
on any `Workspace` (the tests use a recording one).
"""
from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

log = logging.getLogger("release.aml")
ROOT = Path(__file__).resolve().parents[1]
AML_ROOT = ROOT / "infra" / "aml"
MODEL_NAME = "adf-ml-glue-digits"
CHAMPION_POINTER = "models/champion.json"
KINDS = ("datastore", "compute", "environment", "endpoint", "deployment")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def load_definitions(root: Path = AML_ROOT) -> dict[str, dict]:
    """{kind: definition} of `root/<kind>.yml`."""
    return {kind: yaml.safe_load((Path(root) / f"{kind}.yml").read_text()) for kind in KINDS}


def model_reference(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise ValueError(f"champion version {version!r} is not a valid Azure ML model version")
    return f"azureml:{MODEL_NAME}:{version}"


def deployment_for(definitions: dict[str, dict], version: str, code_dir: Path) -> dict:
    """The deployment definition serving champion `version` with the staged code."""
    doc = json.loads(json.dumps(definitions["deployment"]))
    doc["model"] = model_reference(version)
    doc["code_configuration"]["code"] = str(code_dir)
    doc["tags"] = {**doc.get("tags", {}), "championVersion": version}
    return doc


def problems(definitions: dict[str, dict], code_dir: Path | None = None) -> list[str]:
    """What would make the deployment unusable by the pipeline (empty when fine)."""
    d, out = definitions["deployment"], []
    if d.get("endpoint_name") != definitions["endpoint"].get("name"):
        out.append("deployment.endpoint_name is not endpoint.name")
    if d.get("compute") != f"azureml:{definitions['compute'].get('name')}":
        out.append("deployment.compute is not the compute's name")
    if not str(d.get("environment", "")).startswith(
            f"azureml:{definitions['environment'].get('name')}"):
        out.append("deployment.environment is not the environment's name")
    if (d.get("output_action"), d.get("output_file_name")) != (
            "append_row", "predictions.csv"):
        out.append("deployment must append rows to predictions.csv (the pipeline names one "
                   "output file)")
    if definitions["endpoint"].get("auth_mode") != "aad_token":
        out.append("endpoint.auth_mode must be aad_token (Data Factory's managed identity)")
    script = (d.get("code_configuration") or {}).get("scoring_script", "")
    if code_dir is not None and not (Path(code_dir) / script).is_file():
        out.append(f"scoring script {script} is not in the staged code")
    return out


def stage_code(dest: Path) -> Path:
    """The deployment's code folder: the training package's files (training/...)."""
    from training.package import build_package

    for name, data in build_package().files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data)
    return dest


class Workspace(Protocol):
    """What publishing needs of an Azure ML workspace."""

    def model_versions(self, name: str) -> set[str]: ...
    def register_model(self, name: str, version: str, path: Path, tags: dict) -> None: ...
    def served_model(self, endpoint: str, deployment: str) -> str | None: ...
    def ensure(self, kind: str, definition: dict, base: Path) -> None: ...
    def deploy(self, definition: dict, base: Path) -> None: ...
    def make_default(self, endpoint: str, deployment: str) -> None: ...


@dataclass
class Published:
    model: str | None
    registered: bool = False
    deployment: str = "unchanged"  # unchanged | updated | none (no champion yet)

    def line(self) -> str:
        if self.model is None:
            return f"{'aml':<14} {'deployment':<24} none: no champion yet"
        return (f"{'aml':<14} {'deployment':<24} {self.deployment}; model {self.model}"
                + (" (registered)" if self.registered else ""))


def publish_champion(workspace: Workspace, blob_service, ml_container: str,
                     root: Path = AML_ROOT, dry_run: bool = False) -> Published:
    """Make the endpoint's deployment serve the current champion (see the module doc)."""
    from azure.core.exceptions import ResourceNotFoundError

    container = blob_service.get_container_client(ml_container)
    try:
        champion = json.loads(container.download_blob(CHAMPION_POINTER).readall())
    except ResourceNotFoundError:
        return Published(model=None, deployment="none")
    definitions = load_definitions(root)
    found = problems(definitions)
    if found:
        raise ValueError("infra/aml definitions: " + "; ".join(found))
    version = champion["version"]
    wanted = model_reference(version)
    endpoint, deployment = definitions["endpoint"]["name"], definitions["deployment"]["name"]
    if workspace.served_model(endpoint, deployment) == wanted:
        return Published(model=wanted)
    register = version not in workspace.model_versions(MODEL_NAME)
    if dry_run:
        return Published(model=wanted, registered=register, deployment="updated")
    with tempfile.TemporaryDirectory(prefix="release-aml-") as tmp:
        tmp_path = Path(tmp)
        if register:
            path = champion.get("modelPath") or f"{ml_container}/models/{version}/model.keras"
            source_container, _, name = path.partition("/")
            model_file = tmp_path / "model" / "model.keras"
            model_file.parent.mkdir()
            model_file.write_bytes(blob_service.get_container_client(source_container)
                                   .download_blob(name).readall())
            workspace.register_model(MODEL_NAME, version, model_file.parent,
                                     {"accuracy": str(champion.get("accuracy")),
                                      "promotedAt": str(champion.get("promotedAt"))})
        for kind in ("datastore", "compute", "environment", "endpoint"):
            workspace.ensure(kind, definitions[kind], root)
        code = stage_code(tmp_path / "code")
        doc = deployment_for(definitions, version, code)
        found = problems({**definitions, "deployment": doc}, code)
        if found:
            raise ValueError("deployment definition: " + "; ".join(found))
        workspace.deploy(doc, root)
        workspace.make_default(endpoint, deployment)
    log.info("deployment %s/%s serves %s", endpoint, deployment, wanted)
    return Published(model=wanted, registered=register, deployment="updated")


class AzureMLWorkspace:
    """`Workspace` over azure-ai-ml's `MLClient` (imported here, only when used)."""

    def __init__(self, subscription_id: str, resource_group: str, workspace: str,
                 credential=None):
        try:
            from azure.ai.ml import MLClient
        except ImportError:
            raise SystemExit("publishing to Azure ML needs azure-ai-ml: "
                             "pip install azure-ai-ml (release tooling only)") from None
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.client = MLClient(credential, subscription_id, resource_group, workspace)

    def model_versions(self, name: str) -> set[str]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return {m.version for m in self.client.models.list(name=name)}
        except ResourceNotFoundError:
            return set()

    def register_model(self, name, version, path, tags) -> None:
        from azure.ai.ml.entities import Model

        self.client.models.create_or_update(Model(name=name, version=version, path=str(path),
                                                  type="custom_model", tags=tags))

    def served_model(self, endpoint, deployment) -> str | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            model = self.client.batch_deployments.get(deployment, endpoint).model
        except ResourceNotFoundError:
            return None
        model = str(model or "")
        # the service answers with the model's resource id: .../models/<name>/versions/<v>
        m = re.search(r"/models/([^/]+)/versions/([^/]+)$", model)
        return f"azureml:{m.group(1)}:{m.group(2)}" if m else model or None

    def _load(self, kind: str, definition: dict, base: Path):
        from azure.ai.ml import (
            load_batch_deployment,
            load_batch_endpoint,
            load_compute,
            load_datastore,
            load_environment,
        )

        loader = {"datastore": load_datastore, "compute": load_compute,
                  "environment": load_environment, "endpoint": load_batch_endpoint,
                  "deployment": load_batch_deployment}[kind]
        with tempfile.NamedTemporaryFile("w", suffix=".yml", dir=base, delete=False) as fh:
            yaml.safe_dump(definition, fh)
        try:
            return loader(source=fh.name)
        finally:
            Path(fh.name).unlink()

    def ensure(self, kind, definition, base) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        ops = {"datastore": self.client.datastores, "compute": self.client.compute,
               "environment": self.client.environments,
               "endpoint": self.client.batch_endpoints}[kind]
        try:
            if kind == "environment":
                ops.get(definition["name"], label="latest")
            else:
                ops.get(definition["name"])
            return
        except ResourceNotFoundError:
            pass
        entity = self._load(kind, definition, base)
        if kind == "datastore" or kind == "environment":
            ops.create_or_update(entity)
        else:
            ops.begin_create_or_update(entity).result()

    def deploy(self, definition, base) -> None:
        self.client.batch_deployments.begin_create_or_update(
            self._load("deployment", definition, base)).result()

    def make_default(self, endpoint, deployment) -> None:
        ep = self.client.batch_endpoints.get(endpoint)
        ep.defaults.deployment_name = deployment
        self.client.batch_endpoints.begin_create_or_update(ep).result()
