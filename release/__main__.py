"""python -m release: upload the training package, deploy adf/ to the factory, print what
changed. See the package docstring.

Where things are (later sources win):
  the environment or --settings local.settings.json (its Values), as the app reads them:
    STORAGE_ACCOUNT_URL (or STORAGE_CONNECTION_STRING locally), ML_CONTAINER,
    ADF_SUBSCRIPTION_ID, ADF_RESOURCE_GROUP, ADF_FACTORY_NAME, ADF_ENDPOINT/ADF_CA_BUNDLE
    (emulator only), AZURE_CLIENT_ID (a managed identity; else DefaultAzureCredential,
    e.g. the Azure CLI login of a pipeline);
  --outputs FILE: the template's outputs (factoryName, storageAccountUrl, mlContainer,
    adfOverrides), as `az deployment group create --query properties.outputs` or the
    deploy workflow writes them;
  flags.

With --aml-workspace it then publishes the current champion to the Azure ML batch endpoint
(`release.aml`; needs the optional azure-ai-ml package): register the model, update the
deployment, make it the default; nothing when the deployment already serves it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from release import ADF_ROOT, release

OUTPUT_SETTINGS = {"factoryName": "ADF_FACTORY_NAME", "storageAccountUrl": "STORAGE_ACCOUNT_URL",
                   "mlContainer": "ML_CONTAINER"}


def _outputs(path: Path) -> dict:
    """Deployment outputs, plain ({"x": 1}) or as ARM returns them ({"x": {"value": 1}})."""
    doc = json.loads(Path(path).read_text())
    return {k: v["value"] if isinstance(v, dict) and set(v) >= {"value"} and "type" in v
            else v for k, v in doc.items()}


def resolve(args, environ) -> tuple[dict, dict]:
    """(settings values, adfOverrides)."""
    values = dict(environ)
    if args.settings:
        values.update(json.loads(Path(args.settings).read_text()).get("Values", {}))
    overrides: dict = {}
    if args.outputs:
        outputs = _outputs(args.outputs)
        for key, name in OUTPUT_SETTINGS.items():
            if outputs.get(key):
                values[name] = str(outputs[key]).rstrip("/") if key == "storageAccountUrl" \
                    else str(outputs[key])
        overrides = outputs.get("adfOverrides") or {}
    if args.overrides:
        overrides = json.loads(Path(args.overrides).read_text())
    for flag, name in (("subscription_id", "ADF_SUBSCRIPTION_ID"),
                       ("resource_group", "ADF_RESOURCE_GROUP"), ("factory", "ADF_FACTORY_NAME"),
                       ("storage_account_url", "STORAGE_ACCOUNT_URL"),
                       ("ml_container", "ML_CONTAINER")):
        if getattr(args, flag):
            values[name] = getattr(args, flag)
    if values.get("STORAGE_ACCOUNT_URL") and not args.settings:
        values.pop("STORAGE_CONNECTION_STRING", None)  # Azure: the account URL wins
    return values, overrides


def main(argv: list[str] | None = None, environ=None) -> int:
    from shared.adf.client import AdfClient, build_management_client
    from shared.settings import SettingsError, load_settings
    from training.blobs import service_client

    p = argparse.ArgumentParser(prog="python -m release", description=__doc__.splitlines()[0])
    p.add_argument("--settings", help="a local.settings.json whose Values to use")
    p.add_argument("--outputs", help="the template's deployment outputs (JSON)")
    p.add_argument("--overrides", help="adfOverrides alone (JSON), instead of --outputs'")
    p.add_argument("--subscription-id")
    p.add_argument("--resource-group")
    p.add_argument("--factory")
    p.add_argument("--storage-account-url")
    p.add_argument("--ml-container")
    p.add_argument("--adf-root", default=str(ADF_ROOT), help="default: adf/")
    p.add_argument("--aml-workspace", help="also publish the champion to this Azure ML "
                   "workspace's batch endpoint (infra/aml/; needs azure-ai-ml)")
    p.add_argument("--aml-resource-group", help="the workspace's resource group "
                   "(default: the factory's)")
    p.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    p.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")

    values, overrides = resolve(args, os.environ if environ is None else environ)
    try:
        settings = load_settings(values)
    except SettingsError as exc:
        p.error(str(exc))
    adf = AdfClient(build_management_client(settings), settings.adf_resource_group,
                    settings.adf_factory_name, attempts=settings.adf_retry_attempts,
                    backoff_seconds=settings.adf_retry_backoff_seconds,
                    max_delay_seconds=settings.adf_retry_max_seconds)
    blobs = service_client(settings.storage_connection_string, settings.storage_account_url,
                           settings.azure_client_id)
    report = release(adf, blobs, settings.ml_container, Path(args.adf_root), overrides,
                     dry_run=args.dry_run)
    published = None
    if args.aml_workspace:
        from release.aml import AzureMLWorkspace, publish_champion

        workspace = AzureMLWorkspace(settings.adf_subscription_id,
                                     args.aml_resource_group or settings.adf_resource_group,
                                     args.aml_workspace)
        published = publish_champion(workspace, blobs, settings.ml_container,
                                     dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"definitions": report.definitions, "code": report.code,
                          "changed": report.changed, "dryRun": args.dry_run,
                          **({"aml": vars(published)} if published else {})}, indent=1))
    else:
        print(f"release to factory {settings.adf_factory_name} ({settings.adf_resource_group})"
              + (" -- dry run, nothing written" if args.dry_run else ""))
        for line in report.lines() + ([published.line()] if published else []):
            print("  " + line)
        print("  changed" if report.changed else "  nothing changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
