"""infra/ is scanned and parsed: checkov (a well-kept IaC scanner that reads Bicep) passes
with only the checks listed in infra/checkov-skips.yaml skipped, and the template parsed by
pycep sets what the app needs in Azure, nothing it does not read, and secrets only as Key
Vault references."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.secrets import names as secret_names
from shared.settings import Settings, setting_name
from tests.infra import bicep

ROOT = bicep.ROOT
SETTINGS = {setting_name(f) for f in Settings.model_fields}

# Settings the app reads that Azure needs set (the code's default is a local placeholder, or
# the host resolves them itself, or they name what the template creates).
REQUIRED_IN_AZURE = {
    "STORAGE_ACCOUNT_URL": "data account, reached with the managed identity",
    "AZURE_CLIENT_ID": "which user-assigned identity the app's credential uses",
    "LANDING_CONTAINER": "the containers the template creates and scopes roles to",
    "STATE_CONTAINER": "same",
    "ML_CONTAINER": "same",
    "TASK_HUB_NAME": "host.json %TASK_HUB_NAME%: the host resolves it, not the model",
    "SWEEP_SCHEDULE": "%SWEEP_SCHEDULE% in a timer trigger: resolved by the host",
    "MONITOR_KEEPALIVE_SCHEDULE": "same",
    "WATCH_TICK_SCHEDULE": "same",
    "RETENTION_SCHEDULE": "same",
    "ADF_SUBSCRIPTION_ID": "the factory the template creates",
    "ADF_RESOURCE_GROUP": "same",
    "ADF_FACTORY_NAME": "same",
    "ADF_TRAIN_PIPELINE": "the names in adf/ as deployed",
    "ADF_SCORE_PIPELINE": "same",
    "CODE_VERSION": "latest: the version `python -m release` uploaded",
    "PUBLIC_BASE_URL": "links in alerts",
    "LOG_ANALYTICS_WORKSPACE_ID": "the external-runs query (ADFPipelineRun)",
    "ALERT_WEBHOOK_SECRET": "webhook signing",
    "ALERT_INTAKE_SECRET": "POST /api/alerts",
    "KEY_VAULT_URL": "secret rotation",
    "SECRET_ROTATION_SCHEDULE": "%SECRET_ROTATION_SCHEDULE% in a timer trigger",
}
# Only for the local stack (emulator endpoints, CA bundles, Azurite's connection string).
LOCAL_ONLY = {"STORAGE_CONNECTION_STRING", "ADF_ENDPOINT", "ADF_CA_BUNDLE",
              "LOG_ANALYTICS_ENDPOINT", "LOG_ANALYTICS_CA_BUNDLE", "KEY_VAULT_CA_BUNDLE"}
# Being added to shared/settings.py on the alerts-delivery branch (the second value of each
# secret during a rotation): the template and the rotation already use them.
# The Functions host's own settings: identity-based storage, telemetry, the plan's runtime.
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId", "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE",
}
KV_REF = re.compile(r"^@Microsoft\.KeyVault\(SecretUri=\$\{kv\}secrets/\$\{secretNames\.(\w+)\}/\)$")


# --- checkov -----------------------------------------------------------------------------

def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    assert path, f"{name} is not installed (requirements-dev.txt)"
    return path


def _skips() -> dict[str, str]:
    return yaml.safe_load((ROOT / "infra" / "checkov-skips.yaml").read_text())["skips"]


@pytest.fixture(scope="module")
def checkov_report():
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    proc = subprocess.run(
        [_tool("checkov"), "-d", "infra", "--framework", "bicep", "--skip-download",
         "--output", "json", "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip(), f"checkov printed nothing: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [r["check_type"] for r in reports] == ["bicep"]
    return reports[0]


def test_checkov_parses_every_file_and_runs_its_checks(checkov_report):
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] >= 30
    assert summary["resource_count"] >= 50


def test_checkov_fails_only_the_listed_skips(checkov_report):
    failed = {}
    for f in checkov_report["results"]["failed_checks"]:
        failed.setdefault(f["check_id"], []).append(f"{f['file_path']}:{f['resource']}")
    skips = _skips()
    unexpected = {k: v for k, v in failed.items() if k not in skips}
    stale = sorted(set(skips) - set(failed))
    assert unexpected == {}, "new checkov findings (fix them, or skip with a reason)"
    assert stale == [], "skipped checks that no longer fire: remove them from the list"


def test_every_skipped_check_has_a_reason():
    for check, reason in _skips().items():
        assert re.fullmatch(r"CKV2?_AZURE_\d+", check)
        assert len(str(reason).split()) >= 8, f"{check}: say why it is skipped"


# --- the parsed template -------------------------------------------------------------------

def test_every_bicep_file_parses():
    files = bicep.bicep_files()
    assert len(files) >= 8
    for path in files:
        assert bicep.parse(path)["resources"] or bicep.parse(path)["modules"], path


def test_every_setting_azure_needs_is_set():
    missing = sorted(set(REQUIRED_IN_AZURE) - set(bicep.app_settings()))
    assert missing == []
    assert set(REQUIRED_IN_AZURE) <= SETTINGS


def test_no_setting_is_set_that_the_app_does_not_read():
    unknown = sorted(set(bicep.app_settings()) - SETTINGS)
    assert unknown == []
    overrides = set(bicep.dev_parameters()["appSettingsOverrides"])
    assert sorted(overrides - SETTINGS) == []
    assert sorted(set(bicep.host_settings()) - HOST_SETTINGS) == []


def test_local_only_settings_are_not_set_in_azure():
    set_anywhere = set(bicep.app_settings()) | set(bicep.dev_parameters()["appSettingsOverrides"])
    assert sorted(set_anywhere & LOCAL_ONLY) == []
    assert LOCAL_ONLY <= SETTINGS


def test_every_secret_setting_is_a_key_vault_reference_to_its_secret():
    bicep_names = bicep.variable(bicep.MAIN, "secretNames")
    settings = bicep.app_settings()
    secrets = {k: v for k, v in settings.items() if k in secret_names.SETTING_SECRETS}
    assert set(secrets) == set(secret_names.SETTING_SECRETS)
    for name, value in secrets.items():
        m = KV_REF.match(value)
        assert m, f"{name} is not a Key Vault reference: {value}"
        assert bicep_names[m.group(1)] == secret_names.SETTING_SECRETS[name], name
    others = {k: v for k, v in settings.items() if k not in secrets}
    assert [k for k, v in others.items() if "KeyVault" in str(v)] == []
    # no secret-looking setting is set any other way
    assert [k for k in settings if re.search(r"SECRET$|SECRET_NEXT$|_URLS?$", k)
            and k not in secrets and k != "STORAGE_ACCOUNT_URL" and k != "KEY_VAULT_URL"
            and k != "PUBLIC_BASE_URL"] == []


def test_overrides_cannot_carry_secrets():
    overrides = bicep.dev_parameters()["appSettingsOverrides"]
    assert sorted(set(overrides) & set(secret_names.SETTING_SECRETS)) == []


def test_secret_names_match_the_app():
    assert sorted(bicep.variable(bicep.MAIN, "secretNames").values()) == sorted(secret_names.ALL)


def test_no_keys_or_connection_strings_in_settings():
    host = bicep.host_settings()
    assert "AzureWebJobsStorage" not in host  # identity-based: __accountName/__credential
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert "Authorization=AAD" in host["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    for path in bicep.bicep_files():
        text = path.read_text()
        assert "AccountKey=" not in text and "SharedAccessSignature" not in text, path
    storage = bicep.parse(bicep.INFRA / "modules" / "storage.bicep")
    assert storage["variables"]["accountProperties"]["value"]["allowSharedKeyAccess"] is False


def test_key_vault_references_resolve_with_the_user_assigned_identity():
    fa = bicep.parse(bicep.INFRA / "modules" / "functionapp.bicep")
    props = fa["resources"]["site"]["config"]["properties"]
    assert props["keyVaultReferenceIdentity"] == "identityId"
    assert "${identityId}" in json.dumps(fa["resources"]["site"]["config"]["identity"])
    main = bicep.parse(bicep.MAIN)
    assert bicep.accessor(main["modules"]["functionApp"]["config"]["params"]["identityId"]) == (
        "runtimeIdentity", "id")
    kv = bicep.parse(bicep.INFRA / "modules" / "keyvault.bicep")
    assert kv["resources"]["vault"]["config"]["properties"]["enableRbacAuthorization"] is True


def test_function_app_is_linux_python_311_functions_v4():
    fa = bicep.parse(bicep.INFRA / "modules" / "functionapp.bicep")
    site = fa["resources"]["site"]["config"]
    assert site["kind"] == "functionapp,linux"
    flex = json.dumps(site["properties"]["functionAppConfig"])
    assert '"name": "python"' in flex and '"version": "3.11"' in flex
    assert "Python|3.11" in json.dumps(site["properties"]["siteConfig"]["linuxFxVersion"])
    assert bicep.host_settings()["FUNCTIONS_EXTENSION_VERSION"] == "~4"
    allowed = fa["parameters"]["hostingPlan"]["decorators"][0]["argument"]
    assert allowed == ["FlexConsumption", "ElasticPremium"]
    assert fa["parameters"]["hostingPlan"]["default"] == "FlexConsumption"


def test_every_key_vault_secret_expires_and_has_a_content_type():
    kv = bicep.parse(bicep.INFRA / "modules" / "keyvault.bicep")
    secrets = {k: r for k, r in kv["resources"].items()
               if r["type"] == "Microsoft.KeyVault/vaults/secrets"}
    assert len(secrets) >= 3
    for name, res in secrets.items():
        text = json.dumps(res["config"])
        assert '"exp": "expiresAt"' in text and "contentType" in text, name
    main = bicep.parse(bicep.MAIN)
    assert main["parameters"]["secretExpiryDays"]["default"] == 90
    assert "P${secretExpiryDays}D" in json.dumps(main["variables"]["expiresAt"])


def test_adf_definitions_are_loaded_from_the_files_the_app_deploys():
    df = bicep.INFRA / "modules" / "datafactory.bicep"
    loaded = {(df.parent / v["value"]["function"]["parameters"]["file_path"]).resolve()
              for v in bicep.parse(df)["variables"].values()
              if isinstance(v["value"], dict)
              and v["value"].get("function", {}).get("type") == "load_json_content"}
    on_disk = {p.resolve() for p in (ROOT / "adf").rglob("*.json")}
    assert loaded == on_disk
    # each one becomes a resource whose name comes from its file
    resources = bicep.parse(df)["resources"]
    kinds = sorted(r["type"].rsplit("/", 1)[1] for r in resources.values()
                   if r["type"].startswith("Microsoft.DataFactory/factories/"))
    assert kinds == ["linkedservices"] * 3 + ["pipelines"] * len(list((ROOT / "adf" / "pipeline").glob("*.json")))


def test_data_factory_logs_are_resource_specific_for_the_apps_query():
    df = bicep.parse(bicep.INFRA / "modules" / "datafactory.bicep")
    diag = df["resources"]["diagnostics"]["config"]["properties"]
    assert diag["logAnalyticsDestinationType"] == "Dedicated"
    assert {"PipelineRuns", "ActivityRuns"} <= {c["category"] for c in diag["logs"]}
    assert df["resources"]["factory"]["config"]["identity"]["type"] == "SystemAssigned"


def test_batch_pool_autoscales_on_pending_tasks_to_zero_and_installs_requirements():
    batch = bicep.parse(bicep.INFRA / "modules" / "batch.bicep")
    text = json.dumps(batch["variables"]["formula"])
    assert "$PendingTasks" in text and "max(0, $TargetDedicatedNodes / 2)" in text
    assert "${maxNodes}" in text and "$NodeDeallocationOption = taskcompletion" in text
    pool = batch["resources"]["pool"]["config"]
    assert pool["properties"]["scaleSettings"]["autoScale"]["evaluationInterval"] == (
        "autoscaleEvaluationInterval")
    assert pool["identity"]["type"] == "UserAssigned"
    assert "-r requirements.txt" in batch["variables"]["startCommand"]["value"]
    main = bicep.parse(bicep.MAIN)
    req = main["modules"]["batch"]["config"]["params"]["requirementsBase64"]["function"]
    assert (bicep.INFRA / req["parameters"]["file_path"]).resolve() == (
        ROOT / "training" / "requirements.txt").resolve()
    for param in ("batchMaxNodes", "batchAutoscaleEvaluationInterval"):
        assert param in main["parameters"]


def test_event_grid_delivers_to_functions_the_app_has():
    from tests.app_index import app_functions

    events = bicep.parse(bicep.INFRA / "modules" / "events.bicep")
    text = json.dumps(events["resources"])
    targets = set(re.findall(r"/functions/(\w+)", text))
    have = {f.get_function_name() for f in app_functions()}
    assert targets == {"on_blob_created", "on_secret_near_expiry"}
    assert targets <= have
    blob = events["resources"]["blobCreated"]["config"]["properties"]
    assert blob["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert blob["filter"]["subjectBeginsWith"] == (
        "/blobServices/default/containers/${landingContainer}/")
    assert blob["retryPolicy"]["maxDeliveryAttempts"] == "maxDeliveryAttempts"
    dead = blob["deadLetterWithResourceIdentity"]["deadLetterDestination"]["properties"]
    assert dead["blobContainerName"] == "deadLetterContainer"
    near = events["resources"]["nearExpiry"]["config"]["properties"]["filter"]
    assert near["includedEventTypes"] == ["Microsoft.KeyVault.SecretNearExpiry",
                                          "Microsoft.KeyVault.SecretNewVersionCreated"]
    events_module = bicep.parse(bicep.MAIN)["modules"]["events"]["config"]
    assert events_module["condition"] == "subscribeEvents"
    watched = events_module["config"]["params"]["watchedSecrets"]
    names = bicep.variable(bicep.MAIN, "secretNames")
    literal = {names[bicep.accessor(x)[1]] for x in
               watched["function"]["parameters"]["arg_1"]}
    assert literal == {*secret_names.ROTATED, "batch-account-key"}
    group = events["resources"]["actionGroup"]["config"]["properties"]["webhookReceivers"][0]
    assert group["useCommonAlertSchema"] is True and "/api/alerts?code=" in group["serviceUri"]
    alert = events["resources"]["failedRuns"]["config"]["properties"]
    assert alert["criteria"]["allOf"][0]["metricName"] == "PipelineFailedRuns"


def test_container_roles_are_scoped_per_container():
    assert bicep.container_roles("runtime") == {
        "landing": "Storage Blob Data Reader", "glue-state": "Storage Blob Data Contributor",
        "ml-data": "Storage Blob Data Contributor"}
    (runtime_ml,) = [r for r in bicep.variable(bicep.roles_module(), "dataContainerRoles")
                     if r["who"] == "runtime" and r["container"] == "mlContainer"]
    # ... whose writes a condition keeps to the reporting tables
    assert "blobs/write" in runtime_ml["condition"] and "reportingPrefix" in runtime_ml["condition"]
    assert bicep.container_roles("batch") == {
        "landing": "Storage Blob Data Reader", "glue-state": "Storage Blob Data Reader",
        "ml-data": "Storage Blob Data Contributor"}
    rows = [r for r in bicep.variable(bicep.roles_module(), "dataContainerRoles")
            if r["who"] == "batch" and r["container"] == "stateContainer"]
    assert "StringStartsWith" in rows[0]["condition"] and "manifestsPrefix" in rows[0]["condition"]


def test_runtime_and_deploy_roles_split_the_factory_actions():
    runtime = bicep.role_actions("runtimeFactoryActions")
    deploy = bicep.role_actions("deployFactoryActions")
    assert runtime and deploy and not runtime & deploy
    assert not [a for a in runtime if a.endswith("/write") or a.endswith("/delete")]
    assert all(a.startswith("Microsoft.DataFactory/factories/") for a in runtime | deploy)
