"""Secret rotation with no downtime, driven by Key Vault's events.

The app reads its secrets as settings whose values are Key Vault references; App Service
re-reads a reference within SECRET_REFRESH_SECONDS (24 h) of a new version. So a secret
cannot simply be replaced: for a while some instances still hold the old value. Each
secret the app rotates therefore has a companion (`<name>-next`, names in `names`), read as
a second setting (ALERT_WEBHOOK_SECRET_NEXT, ALERT_INTAKE_SECRET_NEXT), and both values are
in force together: webhooks are signed with both, the intake accepts either.

1. `SecretNearExpiry` for `<name>` (30 days before it expires) -> `begin_rotation`: a new
   random value goes to `<name>-next`, tagged with the version it replaces and when it may
   be promoted (now + SECRET_ROTATION_OVERLAP_SECONDS, longer than the refresh). Once the
   settings follow, old (`<name>`) and new (`<name>-next`) are both in force, and whoever
   verifies or sends the secret switches to the new one at leisure.
2. The `promote_rotated_secrets` timer -> `promote_due`: past that time `<name>` gets the
   new value as a new version (its expiry SECRET_EXPIRY_DAYS ahead), and the companion's
   version is marked promoted. `<name>-next` keeps the new value, so whichever mix of old
   and refreshed references an instance holds, the new value is in force; the old one
   leaves as the references refresh.
Both steps are idempotent (Event Grid delivers at least once, a timer may fire twice): a
companion already written for that version is reused, a promoted one is left alone.

Secrets a person must replace (the sink URLs, the Batch key): `SecretNearExpiry` raises
one `secret_expiring` alert naming the secret and its expiry; a new version
(`SecretNewVersionCreated`) resolves it.
"""
from __future__ import annotations

import logging
import secrets as random_source
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlparse

from shared.secrets.names import REPLACED_BY_A_PERSON, ROTATED
from shared.settings import LOOPBACK

log = logging.getLogger(__name__)

NEAR_EXPIRY = "Microsoft.KeyVault.SecretNearExpiry"
NEW_VERSION = "Microsoft.KeyVault.SecretNewVersionCreated"
ALERT_KIND = "secret_expiring"
ALERT_SEVERITY = "Sev2"
CONTENT_TYPE = "text/plain; rotated-by=on_secret_near_expiry"
TAG_REPLACES = "rotationOf"  # "<name>/<version it replaces>"
TAG_PROMOTE_AT = "promoteAt"  # ISO time after which the companion may be promoted
TAG_PROMOTED_AT = "promotedAt"  # set on the companion's version once promoted


class IgnoredEvent(ValueError):
    """Not an event this app acts on (another type, object or secret)."""


@dataclass(frozen=True)
class SecretEvent:
    type: str  # NEAR_EXPIRY | NEW_VERSION
    name: str
    version: str | None
    expires: datetime | None


def parse_event(event_type: str, subject: str | None, data: dict | None) -> SecretEvent:
    """A Key Vault event (Event Grid schema: data.ObjectName, Version, EXP in epoch seconds)."""
    if event_type not in (NEAR_EXPIRY, NEW_VERSION):
        raise IgnoredEvent(f"event type {event_type}")
    data = data if isinstance(data, dict) else {}
    if data.get("ObjectType", "Secret") != "Secret":
        raise IgnoredEvent(f"object type {data.get('ObjectType')}")
    name = str(data.get("ObjectName") or subject or "")
    if not name:
        raise IgnoredEvent("no secret name")
    exp = data.get("EXP")
    expires = datetime.fromtimestamp(exp, UTC) if isinstance(exp, (int, float)) else None
    return SecretEvent(event_type, name, data.get("Version") or None, expires)


def decide(event: SecretEvent) -> str:
    """rotate | alert | resolve | ignore (pure)."""
    if event.name in ROTATED:
        return "rotate" if event.type == NEAR_EXPIRY else "ignore"  # new versions are ours
    if event.name in REPLACED_BY_A_PERSON:
        return "alert" if event.type == NEAR_EXPIRY else "resolve"
    return "ignore"  # companions, secrets of others


# --- the Key Vault client ------------------------------------------------------------------


class _StaticToken:
    """A bearer token for a local Key Vault stub (which accepts any)."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("local-key-vault-token", int(datetime.now(UTC).timestamp()) + 3600)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo("local-key-vault-token",
                               int(datetime.now(UTC).timestamp()) + 3600)


def vault_client(settings):
    """`SecretClient` for KEY_VAULT_URL (built once per process and settings)."""
    return _vault_client(settings.key_vault_url, settings.key_vault_ca_bundle,
                         settings.azure_client_id)


@lru_cache(maxsize=4)
def _vault_client(url: str, ca_bundle: str | None, client_id: str | None):
    from azure.keyvault.secrets import SecretClient

    local = urlparse(url).hostname in LOOPBACK
    if local:
        credential = _StaticToken()
    else:
        from shared.identity import credential as app_credential

        credential = app_credential(client_id or None)
    kwargs = {"connection_verify": ca_bundle} if ca_bundle else {}
    # A local stub answers the auth challenge for its own address, not *.vault.azure.net.
    return SecretClient(url, credential, verify_challenge_resource=not local, **kwargs)


def _get(client, name: str):
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return client.get_secret(name)
    except ResourceNotFoundError:
        return None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# --- the two steps -------------------------------------------------------------------------


def begin_rotation(client, settings, name: str, version: str | None, now: datetime) -> dict:
    """Step 1: a new value in `<name>-next` (once per version of `name` being replaced)."""
    companion = ROTATED[name]
    replaces = f"{name}/{version or 'unknown'}"
    current = _get(client, companion)
    tags = (current.properties.tags or {}) if current else {}
    if tags.get(TAG_REPLACES) == replaces:
        log.info("rotation of %s: %s already holds its new value (version %s)", name,
                 companion, current.properties.version)
        return {"secret": name, "companion": companion, "written": False,
                "version": current.properties.version, "promoteAt": tags.get(TAG_PROMOTE_AT)}
    promote_at = now + timedelta(seconds=settings.secret_rotation_overlap_seconds)
    written = client.set_secret(
        companion, random_source.token_urlsafe(32), content_type=CONTENT_TYPE,
        expires_on=now + timedelta(days=settings.secret_expiry_days), enabled=True,
        tags={TAG_REPLACES: replaces, TAG_PROMOTE_AT: promote_at.isoformat()})
    log.info("rotation of %s: new value in %s (version %s); both in force until %s", name,
             companion, written.properties.version, promote_at.isoformat())
    return {"secret": name, "companion": companion, "written": True,
            "version": written.properties.version, "promoteAt": promote_at.isoformat()}


def promote(client, settings, name: str, now: datetime) -> dict | None:
    """Step 2 for one secret: if its companion's overlap is over, `name` gets its value.
    None when there is nothing (yet) to promote."""
    companion = ROTATED[name]
    new = _get(client, companion)
    tags = (new.properties.tags or {}) if new else {}
    due = _time(tags.get(TAG_PROMOTE_AT))
    if new is None or due is None or due > now or tags.get(TAG_PROMOTED_AT):
        return None
    current = _get(client, name)
    written = None
    if current is None or current.value != new.value:
        written = client.set_secret(
            name, new.value, content_type=CONTENT_TYPE, enabled=True,
            expires_on=now + timedelta(days=settings.secret_expiry_days),
            tags={"promotedFrom": f"{companion}/{new.properties.version}"})
    client.update_secret_properties(companion, new.properties.version,
                                    tags={**tags, TAG_PROMOTED_AT: now.isoformat()})
    log.info("rotation of %s: promoted %s version %s%s", name, companion,
             new.properties.version, "" if written else " (value was already in place)")
    return {"secret": name, "companion": companion, "from": new.properties.version,
            "version": written.properties.version if written else current.properties.version}


def promote_due(client, settings, now: datetime) -> list[dict]:
    """Step 2 for every rotated secret whose overlap is over."""
    return [done for name in ROTATED if (done := promote(client, settings, name, now))]


# --- secrets a person replaces ----------------------------------------------------------------


def expiry_finding(event: SecretEvent, resolved: bool) -> dict:
    from shared.checks.findings import ALERT, OK, finding

    subject = f"keyvault-secret:{event.name}"
    if resolved:
        return finding(ALERT_KIND, subject, OK, f"Key Vault secret {event.name} has a new "
                       "version", {"secret": event.name, "version": event.version})
    when = event.expires.strftime("%Y-%m-%d %H:%M UTC") if event.expires else "soon"
    return finding(
        ALERT_KIND, subject, ALERT,
        f"Key Vault secret {event.name} expires {when}; the app cannot rotate it: store a "
        "new version (README: Deploy to Azure, rotating secrets)",
        {"secret": event.name, "version": event.version,
         "expires": event.expires.isoformat() if event.expires else None},
        severity=ALERT_SEVERITY)


def report_expiry(services, event: SecretEvent, now: datetime, resolved: bool = False) -> int:
    """Raise (or resolve) the secret's alert through the alert store and sinks: one alert
    per secret however often the event comes. Returns the notifications sent."""
    from shared.alerts import deliver, process_findings

    notes = process_findings(services, [expiry_finding(event, resolved)], now,
                             source="keyvault")
    if notes:
        deliver(services, notes)
    return len(notes)


def handle_event(services, event: SecretEvent, now: datetime) -> dict:
    """What on_secret_near_expiry does with one event: {"action", ...}."""
    action = decide(event)
    if action == "rotate":
        if not services.settings.key_vault_url:
            log.warning("%s is near expiry but KEY_VAULT_URL is not set: not rotated", event.name)
            return {"action": "skipped", "secret": event.name}
        return {"action": action, **begin_rotation(vault_client(services.settings),
                                                   services.settings, event.name,
                                                   event.version, now)}
    if action in ("alert", "resolve"):
        sent = report_expiry(services, event, now, resolved=action == "resolve")
        return {"action": action, "secret": event.name, "notifications": sent}
    return {"action": "ignore", "secret": event.name}
