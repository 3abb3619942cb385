"""One typed settings object read from the environment.

Locally the values come from `local.settings.json` (`Values`), in Azure from app settings
(secrets as Key Vault references). Validation happens at first use; a missing or invalid
value raises `SettingsError` naming the setting and what it expects.
"""
from __future__ import annotations

import os
from functools import lru_cache

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


def _f(default, name: str, **kw):
    return Field(default, validation_alias=AliasChoices(name), **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    # --- storage and identity -----------------------------------------------------------
    # Locally a connection string (Azurite); in Azure an account URL + managed identity.
    storage_connection_string: str | None = _f(None, "STORAGE_CONNECTION_STRING")
    storage_account_url: str | None = _f(None, "STORAGE_ACCOUNT_URL")
    azure_client_id: str | None = _f(None, "AZURE_CLIENT_ID")
    landing_container: str = _f("landing", "LANDING_CONTAINER", min_length=3, max_length=63)
    state_container: str = _f("glue-state", "STATE_CONTAINER", min_length=3, max_length=63)
    ml_container: str = _f("ml", "ML_CONTAINER", min_length=2, max_length=63)

    # --- landing-zone detection ---------------------------------------------------------
    landing_lookback_days: int = _f(2, "LANDING_LOOKBACK_DAYS", ge=0, le=366)
    landing_quiet_seconds: float = _f(60.0, "LANDING_QUIET_SECONDS", ge=0)
    claim_timeout_seconds: float = _f(900.0, "CLAIM_TIMEOUT_SECONDS", gt=0)
    max_batch_files: int = _f(500, "MAX_BATCH_FILES", ge=1, le=10000)

    # --- Durable Functions ------------------------------------------------------------
    task_hub_name: str = _f("adfmlglue", "TASK_HUB_NAME", pattern=r"^[A-Za-z][A-Za-z0-9]{2,44}$")
    sweep_schedule: str = _f("0 0 * * * *", "SWEEP_SCHEDULE")

    # --- Data Factory -----------------------------------------------------------------
    adf_subscription_id: str = _f("00000000-0000-0000-0000-000000000000", "ADF_SUBSCRIPTION_ID")
    adf_resource_group: str = _f("rg-adf-ml-glue", "ADF_RESOURCE_GROUP", min_length=1)
    adf_factory_name: str = _f("adf-ml-glue", "ADF_FACTORY_NAME", min_length=3)
    # Emulator only: a base URL other than ARM and the CA bundle of its self-signed cert.
    adf_endpoint: str | None = _f(None, "ADF_ENDPOINT")
    adf_ca_bundle: str | None = _f(None, "ADF_CA_BUNDLE")
    adf_train_pipeline: str = _f("train_and_score", "ADF_TRAIN_PIPELINE")
    adf_score_pipeline: str = _f("score_only", "ADF_SCORE_PIPELINE")
    code_version: str = _f("latest", "CODE_VERSION", min_length=1)

    @model_validator(mode="after")
    def _storage_configured(self) -> Settings:
        if not (self.storage_connection_string or self.storage_account_url):
            raise ValueError(
                "set STORAGE_CONNECTION_STRING (local) or STORAGE_ACCOUNT_URL (Azure, with "
                "managed identity)"
            )
        return self


_ENV_NAMES = {
    name: field.validation_alias.choices[0]  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def setting_name(field: str) -> str:
    """The environment name of a settings field (`landing_container` -> LANDING_CONTAINER)."""
    return _ENV_NAMES[field]


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "settings"
        got = e.get("input")
        shown = "" if loc == "settings" or isinstance(got, dict) else f" (got {got!r})"
        parts.append(f"{loc}: {e['msg']}{shown}")
    return "invalid settings: " + "; ".join(parts)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from `environ` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings(**{k: v for k, v in env.items() if k in _ENV_NAMES.values()})
    except ValidationError as err:
        raise SettingsError(_describe(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated once at first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the devstack change the environment)."""
    get_settings.cache_clear()
