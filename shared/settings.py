"""One typed settings object read from the environment.

Locally the values come from `local.settings.json` (`Values`), in Azure from app settings
(secrets as Key Vault references). Validation happens at first use; a missing or invalid
value raises `SettingsError` naming the setting and what it expects.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import describe_validation_error


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


RULE_ACTIONS = ("retrain", "score", "none")


@lru_cache(maxsize=8)
def tick_gaps(schedule: str) -> tuple[float, float]:
    """(shortest, longest) seconds between two ticks of a six-field NCRONTAB schedule (the
    timer trigger's format) that ticks every hour of every day, so its ticks repeat hourly
    and one hour holds every gap. ValueError when it is not one, or names hours or days
    (a watcher that stopped at night would leave runs to their safety net)."""
    from croniter import croniter

    if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
        raise ValueError(f"{schedule!r} is not a six-field NCRONTAB expression ({{second}} "
                         "{minute} {hour} {day} {month} {day-of-week})")
    minute, hour, day, month, weekday, second = croniter(
        schedule, second_at_beginning=True).expanded
    if any(field != ["*"] for field in (hour, day, month, weekday)):
        raise ValueError(f"{schedule!r} does not tick every hour of every day (its hour, day, "
                         "month and day-of-week fields must be *)")
    ticks = sorted(m * 60 + s for m in (range(60) if minute == ["*"] else minute)
                   for s in (range(60) if second == ["*"] else second))
    gaps = [b - a for a, b in pairwise([*ticks, ticks[0] + 3600])]
    return float(min(gaps)), float(max(gaps))


def parse_rule_actions(text: str | None) -> dict[str, str]:
    """ALERT_RULE_ACTIONS as {rule name (casefolded): action}; JSON object or a=b;c=d."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith(("{", "[")):
        try:
            pairs = json.loads(text)
        except ValueError:
            raise SettingsError("ALERT_RULE_ACTIONS: not valid JSON") from None
        if not isinstance(pairs, dict):
            raise SettingsError("ALERT_RULE_ACTIONS: expected a JSON object")
        items = list(pairs.items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, sep, action = part.partition("=")
            if not sep or not name.strip():
                raise SettingsError(f"ALERT_RULE_ACTIONS: expected rule=action, got {part!r}")
            items.append((name.strip(), action.strip()))
    out = {}
    for name, action in items:
        if action not in RULE_ACTIONS:
            raise SettingsError(f"ALERT_RULE_ACTIONS: action for {name!r} must be one of "
                                f"{', '.join(RULE_ACTIONS)} (got {action!r})")
        out[str(name).casefold()] = action
    return out


def _f(default, name: str, **kw):
    return Field(default, validation_alias=AliasChoices(name), **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_other_sources):
        # `load_settings` hands over the whole environment it was given: reading the
        # process environment again here would let it leak into settings built from a dict.
        return (init_settings,)

    # --- storage and identity -----------------------------------------------------------
    # Locally a connection string (Azurite); in Azure an account URL + managed identity.
    storage_connection_string: str | None = _f(None, "STORAGE_CONNECTION_STRING")
    storage_account_url: str | None = _f(None, "STORAGE_ACCOUNT_URL")
    azure_client_id: str | None = _f(None, "AZURE_CLIENT_ID")
    landing_container: str = _f("landing", "LANDING_CONTAINER", min_length=3, max_length=63)
    state_container: str = _f("glue-state", "STATE_CONTAINER", min_length=3, max_length=63)
    ml_container: str = _f("ml-data", "ML_CONTAINER", min_length=3, max_length=63)

    # --- landing-zone detection ---------------------------------------------------------
    landing_lookback_days: int = _f(2, "LANDING_LOOKBACK_DAYS", ge=0, le=366)
    landing_quiet_seconds: float = _f(60.0, "LANDING_QUIET_SECONDS", ge=0)
    claim_timeout_seconds: float = _f(900.0, "CLAIM_TIMEOUT_SECONDS", gt=0)
    max_batch_files: int = _f(500, "MAX_BATCH_FILES", ge=1, le=10000)

    # --- Durable Functions ------------------------------------------------------------
    task_hub_name: str = _f("adfmlglue", "TASK_HUB_NAME", pattern=r"^[A-Za-z][A-Za-z0-9]{2,44}$")
    sweep_schedule: str = _f("0 0 * * * *", "SWEEP_SCHEDULE")
    monitor_keepalive_schedule: str = _f("0 */10 * * * *", "MONITOR_KEEPALIVE_SCHEDULE")

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
    # Where score-mode runs score: `batch` (the score pipeline's Custom activity on Azure
    # Batch) or `aml-endpoint` (an Azure ML batch endpoint, driven by the endpoint pipeline's
    # Web activities). A run may override it (`scoreTarget` on POST /api/runs).
    score_target: Literal["batch", "aml-endpoint"] = _f("batch", "SCORE_TARGET")
    adf_endpoint_score_pipeline: str = _f("score_batch_endpoint", "ADF_ENDPOINT_SCORE_PIPELINE")
    # The batch endpoint: its jobs URI (https://<endpoint>.<region>.inference.ml.azure.com/
    # jobs), the data-plane api-version, the pipeline's wait between status checks, and the
    # URI of the Azure ML datastore on ML_CONTAINER (azureml://datastores/<name>/paths) that
    # inputs and outputs are named under.
    aml_endpoint_uri: str | None = _f(None, "AML_ENDPOINT_URI")
    aml_api_version: str = _f("2020-09-01-dataplanepreview", "AML_API_VERSION", min_length=1)
    aml_poll_interval_seconds: int = _f(120, "AML_POLL_INTERVAL_SECONDS", ge=1, le=3600)
    aml_datastore_uri: str | None = _f(None, "AML_DATASTORE_URI")
    # ADF client retries (connection errors, 408/429/5xx): tries in all, first backoff
    # (doubling), longest wait (also caps a Retry-After the service sends).
    adf_retry_attempts: int = _f(5, "ADF_RETRY_ATTEMPTS", ge=1, le=20)
    adf_retry_backoff_seconds: float = _f(1.0, "ADF_RETRY_BACKOFF_SECONDS", ge=0)
    adf_retry_max_seconds: float = _f(30.0, "ADF_RETRY_MAX_SECONDS", ge=0)

    # --- checks and alerts ----------------------------------------------------------------
    # History-based checks look at the last CHECK_HISTORY_WINDOW runs of the same kind and
    # stay silent ("insufficient-history") until CHECK_MIN_HISTORY of them exist.
    check_history_window: int = _f(20, "CHECK_HISTORY_WINDOW", ge=1, le=1000)
    check_min_history: int = _f(5, "CHECK_MIN_HISTORY", ge=2, le=1000)
    # run_slow: over this many seconds always; else over p95(recent successes) x factor.
    check_run_max_seconds: float = _f(7200.0, "CHECK_RUN_MAX_SECONDS", gt=0)
    check_run_slow_factor: float = _f(1.5, "CHECK_RUN_SLOW_FACTOR", ge=1)
    # metric_regression: accuracy below champion's or recent median by more than this.
    check_accuracy_tolerance: float = _f(0.02, "CHECK_ACCURACY_TOLERANCE", ge=0, le=1)
    # Drift: each finding is a chi-square test; together prediction, feature and dataset drift
    # fire on at most this share of batches drawn like the reference (the false-alarm rate).
    check_drift_false_alarm_rate: float = _f(0.01, "CHECK_DRIFT_FALSE_ALARM_RATE", gt=0, lt=1)
    # Effect-size bands (population stability index, Jensen-Shannon distance base 2, 0..1):
    # how big a significant shift is; at or over the alert band it is an alert, else a warning.
    check_psi_warning: float = _f(0.1, "CHECK_PSI_WARNING", gt=0)
    check_psi_alert: float = _f(0.25, "CHECK_PSI_ALERT", gt=0)
    check_js_warning: float = _f(0.1, "CHECK_JS_WARNING", gt=0, le=1)
    check_js_alert: float = _f(0.2, "CHECK_JS_ALERT", gt=0, le=1)
    # Drift on fewer rows than this is not judged (too little power to say anything).
    check_drift_min_rows: int = _f(100, "CHECK_DRIFT_MIN_ROWS", ge=1)
    check_dataset_drift_share: float = _f(0.5, "CHECK_DATASET_DRIFT_SHARE", gt=0, le=1)
    # File size and row count together fire on at most this share of usual batches.
    check_anomaly_false_alarm_rate: float = _f(0.01, "CHECK_ANOMALY_FALSE_ALARM_RATE", gt=0,
                                               lt=1)
    check_rejected_rate_max: float = _f(0.05, "CHECK_REJECTED_RATE_MAX", ge=0, le=1)
    # Freshness (the singleton monitor).
    freshness_data_max_age_hours: float = _f(26.0, "FRESHNESS_DATA_MAX_AGE_HOURS", gt=0)
    freshness_model_max_age_days: float = _f(30.0, "FRESHNESS_MODEL_MAX_AGE_DAYS", gt=0)
    freshness_predictions_max_age_hours: float = _f(
        26.0, "FRESHNESS_PREDICTIONS_MAX_AGE_HOURS", gt=0
    )
    # A run in progress this long is stuck: an hour past the default RUN_TIMEOUT_SECONDS (6 h).
    freshness_run_stuck_seconds: float = _f(25200.0, "FRESHNESS_RUN_STUCK_SECONDS", gt=0)
    # Alerts: a still-firing alert is re-sent (as a repeat) at most once per cooldown.
    alert_cooldown_seconds: float = _f(14400.0, "ALERT_COOLDOWN_SECONDS", ge=0)
    # Sinks, several at once; empty means off. Webhook URLs are comma-separated.
    alert_webhook_urls: str = _f("", "ALERT_WEBHOOK_URLS")
    # Webhook signing key; during a rotation the next one too (both sign, one v1 each).
    alert_webhook_secret: str | None = _f(None, "ALERT_WEBHOOK_SECRET")
    alert_webhook_secret_next: str | None = _f(None, "ALERT_WEBHOOK_SECRET_NEXT")
    alert_teams_webhook_url: str | None = _f(None, "ALERT_TEAMS_WEBHOOK_URL")
    alert_slack_webhook_url: str | None = _f(None, "ALERT_SLACK_WEBHOOK_URL")
    alert_delivery_attempts: int = _f(4, "ALERT_DELIVERY_ATTEMPTS", ge=1, le=10)
    alert_delivery_backoff_seconds: float = _f(1.0, "ALERT_DELIVERY_BACKOFF_SECONDS", ge=0)
    alert_delivery_timeout_seconds: float = _f(10.0, "ALERT_DELIVERY_TIMEOUT_SECONDS", gt=0)
    alert_delivery_budget_seconds: float = _f(30.0, "ALERT_DELIVERY_BUDGET_SECONDS", gt=0)
    # What is not delivered at once is retried each monitor cycle until this long after the
    # notification was made, then given up (and shown as such).
    alert_delivery_give_up_seconds: float = _f(86400.0, "ALERT_DELIVERY_GIVE_UP_SECONDS", gt=0)
    # Intake (POST /api/alerts): optional shared secret (either one is accepted, for a
    # rotation); rule name -> retrain|score|none, as JSON ({"drift-rule": "retrain"}) or
    # "drift-rule=retrain;other=none".
    alert_intake_secret: str | None = _f(None, "ALERT_INTAKE_SECRET")
    alert_intake_secret_next: str | None = _f(None, "ALERT_INTAKE_SECRET_NEXT")
    alert_rule_actions: str = _f("", "ALERT_RULE_ACTIONS")
    # Log Analytics: off unless a workspace id is set. Endpoint/CA only for a local stub.
    log_analytics_workspace_id: str | None = _f(None, "LOG_ANALYTICS_WORKSPACE_ID")
    log_analytics_endpoint: str | None = _f(None, "LOG_ANALYTICS_ENDPOINT")
    log_analytics_ca_bundle: str | None = _f(None, "LOG_ANALYTICS_CA_BUNDLE")
    logs_window_minutes: int = _f(60, "LOGS_WINDOW_MINUTES", ge=1, le=10080)

    # --- orchestration of pipeline runs ----------------------------------------------
    poll_interval_seconds: float = _f(30.0, "POLL_INTERVAL_SECONDS", gt=0)
    poll_max_interval_seconds: float = _f(300.0, "POLL_MAX_INTERVAL_SECONDS", gt=0)
    run_timeout_seconds: float = _f(6 * 3600.0, "RUN_TIMEOUT_SECONDS", gt=0)
    max_reruns: int = _f(0, "MAX_RERUNS", ge=0, le=10)
    polls_per_generation: int = _f(50, "POLLS_PER_GENERATION", ge=2, le=1000)
    event_batch_window_seconds: float = _f(60.0, "EVENT_BATCH_WINDOW_SECONDS", ge=0)
    pending_restart_seconds: float = _f(300.0, "PENDING_RESTART_SECONDS", ge=0)
    train_options: str = _f("{}", "TRAIN_OPTIONS")
    freshness_interval_seconds: float = _f(300.0, "FRESHNESS_INTERVAL_SECONDS", ge=1)
    # How runs are followed: `watcher` (one factory-wide watcher hands each change to its
    # run; each run polls itself only every RUN_SAFETY_NET_SECONDS) or `poll` (every run
    # polls its own ADF run, backing off from POLL_INTERVAL_SECONDS).
    run_tracking: Literal["watcher", "poll"] = _f("watcher", "RUN_TRACKING")
    watch_interval_seconds: float = _f(15.0, "WATCH_INTERVAL_SECONDS", ge=1, le=3600)
    run_safety_net_seconds: float = _f(900.0, "RUN_SAFETY_NET_SECONDS", ge=5, le=86400)
    # The watcher's timer (six-field NCRONTAB): a tick looks only when WATCH_INTERVAL_SECONDS
    # have passed since the last look began, so ticks should divide the interval, and may be
    # no further apart than it.
    watch_tick_schedule: str = _f("*/5 * * * * *", "WATCH_TICK_SCHEDULE")
    # Below this many remaining ARM reads (x-ms-ratelimit-remaining-subscription-reads) the
    # watcher and the safety-net polls slow down, up to 8 times.
    arm_reads_low: int = _f(200, "ARM_READS_LOW", ge=1)
    # Retention: finished Durable instances and the state of runs finished longer ago are
    # purged daily (RETENTION_SCHEDULE); 0 keeps everything.
    retention_days: float = _f(30.0, "RETENTION_DAYS", ge=0)
    retention_schedule: str = _f("0 30 3 * * *", "RETENTION_SCHEDULE")
    # Activities are idempotent: a transient storage or ADF error gets more tries, the
    # first after this many seconds, then doubling (the Durable retry policy).
    activity_retry_attempts: int = _f(4, "ACTIVITY_RETRY_ATTEMPTS", ge=1, le=20)
    activity_retry_first_seconds: float = _f(2.0, "ACTIVITY_RETRY_FIRST_SECONDS", gt=0, le=3600)
    # Where people reach the app (links in alerts); empty: alerts carry no links.
    public_base_url: str | None = _f(None, "PUBLIC_BASE_URL")

    # --- Key Vault secret rotation (on_secret_near_expiry) --------------------------------
    # The vault the app's secrets live in; empty: near-expiry events are only logged.
    # KEY_VAULT_CA_BUNDLE only for a local stub.
    key_vault_url: str | None = _f(None, "KEY_VAULT_URL")
    key_vault_ca_bundle: str | None = _f(None, "KEY_VAULT_CA_BUNDLE")
    # A new version expires this many days after it is written.
    secret_expiry_days: int = _f(90, "SECRET_EXPIRY_DAYS", ge=1, le=730)
    # How long settings take to follow a new secret version (Key Vault references: 24 h),
    # and how long old and new are both accepted; the overlap must be the longer.
    secret_refresh_seconds: float = _f(86400.0, "SECRET_REFRESH_SECONDS", ge=0)
    secret_rotation_overlap_seconds: float = _f(172800.0, "SECRET_ROTATION_OVERLAP_SECONDS",
                                                gt=0)
    # When promote_rotated_secrets looks for rotations whose overlap is over (NCRONTAB).
    secret_rotation_schedule: str = _f("0 15 * * * *", "SECRET_ROTATION_SCHEDULE")

    @model_validator(mode="after")
    def _overlap_outlasts_refresh(self) -> Settings:
        if self.secret_rotation_overlap_seconds <= self.secret_refresh_seconds:
            raise ValueError(
                "SECRET_ROTATION_OVERLAP_SECONDS must be longer than SECRET_REFRESH_SECONDS: "
                "the old secret must stay accepted until every instance has the new one")
        return self

    @model_validator(mode="after")
    def _watch_ticks_fit(self) -> Settings:
        if self.run_tracking != "watcher":
            return self
        try:
            longest = tick_gaps(self.watch_tick_schedule)[1]
        except ValueError as exc:
            raise ValueError(f"WATCH_TICK_SCHEDULE: {exc}") from None
        if longest > self.watch_interval_seconds:
            raise ValueError(
                f"WATCH_TICK_SCHEDULE ticks up to {longest:g}s apart, longer than "
                f"WATCH_INTERVAL_SECONDS ({self.watch_interval_seconds:g}s): the watcher would "
                f"look only every {longest:g}s")
        return self

    @model_validator(mode="after")
    def _rule_actions_parse(self) -> Settings:
        parse_rule_actions(self.alert_rule_actions)  # SettingsError names ALERT_RULE_ACTIONS
        return self

    @model_validator(mode="after")
    def _endpoint_configured(self) -> Settings:
        problem = endpoint_settings_problem(self)
        if problem and self.score_target == "aml-endpoint":
            raise ValueError(f"SCORE_TARGET is aml-endpoint but {problem}")
        if problem and (self.aml_endpoint_uri or self.aml_datastore_uri):
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _storage_configured(self) -> Settings:
        if not (self.storage_connection_string or self.storage_account_url):
            raise ValueError(
                "set STORAGE_CONNECTION_STRING (local) or STORAGE_ACCOUNT_URL (Azure, with "
                "managed identity)"
            )
        return self

    # --- feeds (issue 18; see shared/feeds.py) -------------------------------------------
    # The JSON file that declares the feeds (one model's data path each); empty: the single
    # default feed `digits`, exactly the app without feeds.
    feeds_file: str | None = _f(None, "FEEDS_FILE")


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})  # where plain http is allowed

# The feed of the app without a feeds file, and of every batch, record and payload that
# names none (written before feeds): `shared.feeds` builds it, the rest default to it.
DEFAULT_FEED = "digits"


def endpoint_settings_problem(s: Settings) -> str | None:
    """What keeps the batch endpoint from being used, or None when it is configured."""
    uri = urlparse(s.aml_endpoint_uri or "")
    if not s.aml_endpoint_uri:
        return "AML_ENDPOINT_URI is not set (the batch endpoint's jobs URI)"
    if not (uri.scheme == "https" or (uri.scheme == "http" and uri.hostname in LOOPBACK)):
        return "AML_ENDPOINT_URI must be an https URL (http only for a local stand-in)"
    if not uri.hostname or uri.query:
        return "AML_ENDPOINT_URI must be a URL with a host and no query"
    store = urlparse(s.aml_datastore_uri or "")
    if not (store.scheme == "azureml" and store.netloc == "datastores"
            and store.path.rstrip("/").endswith("/paths") and store.path.count("/") >= 2):
        return ("AML_DATASTORE_URI must be azureml://datastores/<datastore on ML_CONTAINER>"
                "/paths")
    return None


_ENV_NAMES = {
    name: field.validation_alias.choices[0]  # type: ignore[union-attr]
    for name, field in Settings.model_fields.items()
}


def setting_name(field: str) -> str:
    """The environment name of a settings field (`landing_container` -> LANDING_CONTAINER)."""
    return _ENV_NAMES[field]


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from `environ` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    try:
        return Settings(**{k: v for k, v in env.items() if k in _ENV_NAMES.values()})
    except ValidationError as err:
        raise SettingsError("invalid settings: " + describe_validation_error(
            err, limit=None, show_input=True, root="settings")) from None


def get_settings() -> Settings:
    """The process-wide settings, validated once per distinct environment: a changed
    environment (a test, the local stack) gets new settings without any cache reset."""
    return _settings_for(tuple(os.environ.get(name) for name in _ENV_NAMES.values()))


@lru_cache(maxsize=8)
def _settings_for(values: tuple) -> Settings:
    return load_settings({k: v for k, v in zip(_ENV_NAMES.values(), values, strict=True)
                          if v is not None})
