"""Secret rotation with no downtime, on the local stack: the app (host stand-in) gets Key
Vault's events, talks to a local HTTPS stub of the Key Vault REST API with the real
`azure-keyvault-secrets` client, and its alerts reach the stack's webhook receiver.

App Service resolves Key Vault references itself (within 24 hours of a new version); here
`refreshed()` reads what a versionless reference resolves to at that moment, and the app's
own checks (the intake's constant-time secret check, the webhook signature) are applied
to the values an instance would then hold: ALERT_*_SECRET and ALERT_*_SECRET_NEXT, both
in force (the intake accepts either, webhooks are signed with both)."""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from devstack.stack import LocalStack
from shared.alerts.intake import check_secret
from shared.alerts.payloads import sign, verify_signature
from shared.errors import Unauthorized
from shared.secrets.names import ROTATED, SETTING_SECRETS
from tests.e2e.conftest import FAST, wait_alerts
from tests.integration.keyvault_stub import KeyVaultStub
from tests.polling import wait_until

pytestmark = pytest.mark.slow

OVERLAP, REFRESH = 10, 2
WEBHOOK, INTAKE = "alert-webhook-secret", "alert-intake-secret"
TEAMS = "alert-teams-webhook-url"


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    with KeyVaultStub(tmp_path_factory.mktemp("keyvault")) as stub:
        soon = int((datetime.now(UTC) + timedelta(days=20)).timestamp())
        for name, value in ((WEBHOOK, "old-signing-secret"), (INTAKE, "old-intake-secret")):
            stub.put(name, value, {"exp": soon})
            stub.put(ROTATED[name], value, {"exp": soon})
        stub.put(TEAMS, "https://teams.example/webhook/abc", {"exp": soon})
        yield stub


@pytest.fixture(scope="module")
def stack(vault, tmp_path_factory):
    saved = dict(os.environ)
    s = LocalStack(tmp_path_factory.mktemp("rotation"), overrides={
        **FAST, "KEY_VAULT_URL": vault.url + "/", "KEY_VAULT_CA_BUNDLE": str(vault.ca),
        "SECRET_ROTATION_OVERLAP_SECONDS": str(OVERLAP),
        "SECRET_REFRESH_SECONDS": str(REFRESH),
        "SECRET_ROTATION_SCHEDULE": "* * * * * *", "SECRET_EXPIRY_DAYS": "90",
        "DEVSTACK_EVENTGRID_WATCH": ""})
    try:
        s.start()
        yield s
        s.stop()
    finally:  # the environment comes back even when the stack did not start
        os.environ.clear()
        os.environ.update(saved)


def deliver(stack, event_type: str, name: str, version: str, exp: int | None = None) -> None:
    """One Key Vault event as Event Grid delivers it to the function."""
    host = stack.host
    url = f"{host.base_url}/runtime/webhooks/eventgrid?functionName=on_secret_near_expiry"
    headers = {"aeg-event-type": "Notification",
               "x-functions-key": host.system_key("eventgrid_extension")}
    body = [{"id": f"kv-{time.monotonic_ns()}", "eventType": event_type, "subject": name,
             "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/kv",
             "data": {"Id": f"https://kv.vault.azure.net/secrets/{name}/{version}",
                      "VaultName": "kv", "ObjectType": "Secret", "ObjectName": name,
                      "Version": version, "NBF": None, "EXP": exp},
             "dataVersion": "1", "metadataVersion": "1",
             "eventTime": datetime.now(UTC).isoformat()}]
    r = requests.post(url, json=body, headers=headers, timeout=30)
    assert r.status_code in (200, 202), r.text  # answered after the function ran


def refreshed(vault) -> dict[str, str]:
    """The settings an instance holds once its Key Vault references refresh."""
    return {setting: vault.latest(secret)["value"] for setting, secret in SETTING_SECRETS.items()
            if secret in (WEBHOOK, INTAKE, *ROTATED.values())}


def intake_accepts(settings: dict, provided: str) -> bool:
    """The intake's check against the secrets in force (current and next)."""
    try:
        check_secret(provided, [settings.get(n) for n in ("ALERT_INTAKE_SECRET",
                                                          "ALERT_INTAKE_SECRET_NEXT")])
        return True
    except Unauthorized:
        return False


def receiver_verifies(settings: dict, receiver_secret: str) -> bool:
    """A receiver holding `receiver_secret` verifies one of the signatures an instance sends
    (one per secret in force)."""
    body = b'{"schemaId": "azureMonitorCommonAlertSchema"}'
    now = int(time.time())
    header = sign(body, [settings.get(n) for n in ("ALERT_WEBHOOK_SECRET",
                                                   "ALERT_WEBHOOK_SECRET_NEXT")], now)
    return verify_signature(header, body, receiver_secret, now)


def test_near_expiry_rotates_with_an_overlap_then_only_the_new_secret(stack, vault):
    before = refreshed(vault)
    old_sign, old_intake = before["ALERT_WEBHOOK_SECRET"], before["ALERT_INTAKE_SECRET"]
    assert intake_accepts(before, old_intake) and receiver_verifies(before, old_sign)
    versions = {n: vault.latest(n)["version"] for n in ROTATED}
    counts = {n: vault.count(n) for n in (*ROTATED, *ROTATED.values())}

    for name in ROTATED:  # Event Grid delivers at least once: twice here
        deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", name, versions[name])
        deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", name, versions[name])
    started = time.monotonic()

    # step 1: one new value per secret, in its companion; the current ones untouched
    for name, companion in ROTATED.items():
        assert vault.count(companion) == counts[companion] + 1
        assert vault.count(name) == counts[name]
        new = vault.latest(companion)
        assert new["tags"]["rotationOf"] == f"{name}/{versions[name]}"
        assert new["value"] != before[next(s for s, v in SETTING_SECRETS.items() if v == name)]
        expires = datetime.fromtimestamp(new["attributes"]["exp"], UTC)
        assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    assert {r["auth"] for r in vault.requests if r["auth"]} == {"Bearer local-key-vault-token"}

    # during the overlap, once the settings have refreshed: old and new both in force
    during = refreshed(vault)
    new_sign, new_intake = during["ALERT_WEBHOOK_SECRET_NEXT"], during["ALERT_INTAKE_SECRET_NEXT"]
    assert during["ALERT_WEBHOOK_SECRET"] == old_sign and new_sign != old_sign
    assert intake_accepts(during, old_intake) and intake_accepts(during, new_intake)
    assert receiver_verifies(during, old_sign) and receiver_verifies(during, new_sign)
    assert not intake_accepts(during, "guessed") and not receiver_verifies(during, "guessed")
    assert time.monotonic() - started < OVERLAP - 1, "the overlap ended before it was checked"

    # the overlap ends (the timer promotes): after the refresh, only the new one
    # Promotion writes the secret, then tags its companion: wait for both writes.
    wait_until(lambda: vault.latest(WEBHOOK)["value"] == new_sign
             and vault.latest(INTAKE)["value"] == new_intake
             and all("promotedAt" in vault.latest(c)["tags"] for c in ROTATED.values()),
             timeout=OVERLAP + 20)
    assert time.monotonic() - started >= OVERLAP - 0.5  # not before the overlap was over
    after = refreshed(vault)
    assert intake_accepts(after, new_intake) and not intake_accepts(after, old_intake)
    assert receiver_verifies(after, new_sign) and not receiver_verifies(after, old_sign)
    for name, companion in ROTATED.items():
        assert vault.count(name) == counts[name] + 1  # promoted once, however often it ran
        assert "promotedAt" in vault.latest(companion)["tags"]
    time.sleep(2)  # more timer runs change nothing
    assert {n: vault.count(n) for n in ROTATED} == {n: counts[n] + 1 for n in ROTATED}


def test_a_secret_the_app_cannot_rotate_raises_one_alert_naming_it(stack, vault):
    receiver = stack.receiver
    exp = vault.latest(TEAMS)["attributes"]["exp"]
    version = vault.latest(TEAMS)["version"]
    count = vault.count(TEAMS)
    deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", TEAMS, version, exp)
    deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", TEAMS, version, exp)
    fired = wait_alerts(receiver, "secret_expiring", "Fired")
    time.sleep(1)
    fired = receiver.alerts("secret_expiring", "Fired")
    assert len(fired) == 1
    essentials = fired[0]["body"]["data"]["essentials"]
    text = str(fired[0]["body"])
    day = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d")
    assert TEAMS in text and day in text and essentials["severity"] == "Sev2"
    assert fired[0]["signatureValid"] is True
    assert vault.count(TEAMS) == count  # the app never writes it

    # a person stores a new version: the alert resolves
    new = vault.put(TEAMS, "https://teams.example/webhook/new")
    deliver(stack, "Microsoft.KeyVault.SecretNewVersionCreated", TEAMS,
            new["id"].rsplit("/", 1)[1])
    resolved = wait_alerts(receiver, "secret_expiring", "Resolved")
    assert len(resolved) == 1


def test_companions_and_unknown_secrets_are_ignored(stack, vault):
    counts = {n: vault.count(n) for n in (*ROTATED, *ROTATED.values())}
    deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", ROTATED[WEBHOOK], "v1")
    deliver(stack, "Microsoft.KeyVault.SecretNearExpiry", "someone-elses-secret", "v1")
    deliver(stack, "Microsoft.KeyVault.SecretNewVersionCreated", WEBHOOK, "v2")
    assert {n: vault.count(n) for n in counts} == counts


# --- the decisions alone ---------------------------------------------------------------------

@pytest.mark.parametrize("event_type,name,action", [
    ("Microsoft.KeyVault.SecretNearExpiry", WEBHOOK, "rotate"),
    ("Microsoft.KeyVault.SecretNearExpiry", INTAKE, "rotate"),
    ("Microsoft.KeyVault.SecretNewVersionCreated", WEBHOOK, "ignore"),  # our own promotion
    ("Microsoft.KeyVault.SecretNearExpiry", ROTATED[WEBHOOK], "ignore"),  # a companion
    ("Microsoft.KeyVault.SecretNearExpiry", TEAMS, "alert"),
    ("Microsoft.KeyVault.SecretNearExpiry", "batch-account-key", "alert"),
    ("Microsoft.KeyVault.SecretNewVersionCreated", TEAMS, "resolve"),
    ("Microsoft.KeyVault.SecretNearExpiry", "other", "ignore"),
])
def test_what_each_event_does(event_type, name, action):
    from shared.secrets.rotation import decide, parse_event

    event = parse_event(event_type, name, {"ObjectType": "Secret", "ObjectName": name,
                                           "Version": "v", "EXP": 1_800_000_000})
    assert decide(event) == action
    assert event.expires == datetime.fromtimestamp(1_800_000_000, UTC)


@pytest.mark.parametrize("event_type,data", [
    ("Microsoft.KeyVault.SecretExpired", {"ObjectName": WEBHOOK}),
    ("Microsoft.KeyVault.KeyNearExpiry", {"ObjectName": WEBHOOK}),
    ("Microsoft.KeyVault.SecretNearExpiry", {"ObjectType": "Key", "ObjectName": WEBHOOK}),
    ("Microsoft.KeyVault.SecretNearExpiry", {}),
])
def test_other_events_are_ignored(event_type, data):
    from shared.secrets.rotation import IgnoredEvent, parse_event

    with pytest.raises(IgnoredEvent):
        parse_event(event_type, None, data)


def test_the_overlap_must_outlast_the_refresh():
    from shared.settings import Settings, SettingsError, load_settings

    fields = Settings.model_fields
    assert fields["secret_refresh_seconds"].default == 86400  # Key Vault references: 24 h
    assert fields["secret_rotation_overlap_seconds"].default > 86400
    base = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "SECRET_REFRESH_SECONDS": "86400"}
    assert load_settings({**base, "SECRET_ROTATION_OVERLAP_SECONDS": "86401"})
    with pytest.raises(SettingsError, match="SECRET_ROTATION_OVERLAP_SECONDS"):
        load_settings({**base, "SECRET_ROTATION_OVERLAP_SECONDS": "86400"})
