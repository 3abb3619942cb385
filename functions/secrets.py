"""Key Vault secret rotation: Key Vault's SecretNearExpiry/SecretNewVersionCreated events
(Event Grid) and the timer that ends each rotation's overlap. The logic lives in
`shared.secrets.rotation`."""
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.event_grid_trigger(arg_name="event")
def on_secret_near_expiry(event: func.EventGridEvent) -> None:
    from shared.secrets.rotation import IgnoredEvent, handle_event, parse_event
    from shared.services import get_services

    try:
        data = event.get_json()
        secret = parse_event(event.event_type, event.subject, data if isinstance(data, dict)
                             else None)
    except IgnoredEvent as why:
        log.info("event %s ignored: %s", event.id, why)
        return
    result = handle_event(get_services(), secret, datetime.now(UTC))
    log.info("event %s (%s of %s): %s", event.id, event.event_type.rsplit(".", 1)[-1],
             secret.name, result)


@bp.timer_trigger(arg_name="timer", schedule="%SECRET_ROTATION_SCHEDULE%", run_on_startup=False)
def promote_rotated_secrets(timer: func.TimerRequest) -> None:
    from shared.secrets.rotation import promote_due, vault_client
    from shared.services import get_services

    settings = get_services().settings
    if not settings.key_vault_url:
        return
    for done in promote_due(vault_client(settings), settings, datetime.now(UTC)):
        log.info("secret rotation finished: %s", done)
