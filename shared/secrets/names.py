"""The Key Vault secret names (infra/main.bicep `secretNames` holds the same; a test
compares them) and the app settings that reference them."""
from __future__ import annotations

# Rotated by the app: secret -> its companion. Both are read as settings; during an overlap
# the companion holds the new value and both are accepted (intake) / used (signing).
ROTATED = {
    "alert-webhook-secret": "alert-webhook-secret-next",
    "alert-intake-secret": "alert-intake-secret-next",
}

# A person replaces these; near expiry the app raises an alert naming the secret.
REPLACED_BY_A_PERSON = (
    "alert-teams-webhook-url",
    "alert-slack-webhook-url",
    "alert-webhook-urls",
    "batch-account-key",
)

# App setting -> the secret its Key Vault reference points at.
SETTING_SECRETS = {
    "ALERT_WEBHOOK_SECRET": "alert-webhook-secret",
    "ALERT_WEBHOOK_SECRET_NEXT": "alert-webhook-secret-next",
    "ALERT_INTAKE_SECRET": "alert-intake-secret",
    "ALERT_INTAKE_SECRET_NEXT": "alert-intake-secret-next",
    "ALERT_TEAMS_WEBHOOK_URL": "alert-teams-webhook-url",
    "ALERT_SLACK_WEBHOOK_URL": "alert-slack-webhook-url",
    "ALERT_WEBHOOK_URLS": "alert-webhook-urls",
}

ALL = (*ROTATED, *ROTATED.values(), *REPLACED_BY_A_PERSON)
