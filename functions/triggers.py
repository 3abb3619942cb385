"""The automatic entry points: the hourly sweep (safety net), BlobCreated events, the
freshness monitor's keep-alive, the run watcher's ticks, and the daily retention pass."""
import logging

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint()
log = logging.getLogger(__name__)


@bp.timer_trigger(arg_name="timer", schedule="%SWEEP_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def hourly_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    from shared.orchestration.starters import ensure_monitor, sweep_and_start
    from shared.services import get_services

    if timer.past_due:
        log.warning("hourly sweep is running late (past due)")
    services = get_services()
    await ensure_monitor(client, services)
    result = await sweep_and_start(client, services, reason="hourly sweep")
    log.info("hourly sweep: %d runs (%d started)", len(result["runs"]),
             sum(r["started"] for r in result["runs"]))


@bp.timer_trigger(arg_name="timer", schedule="%MONITOR_KEEPALIVE_SCHEDULE%", run_on_startup=True)
@bp.durable_client_input(client_name="client")
async def monitor_keepalive(timer: func.TimerRequest,
                            client: df.DurableOrchestrationClient) -> None:
    """Starts the freshness monitor at start-up and restarts it if it ever ended."""
    from shared.orchestration.starters import ensure_monitor
    from shared.services import get_services

    await ensure_monitor(client, get_services())


@bp.timer_trigger(arg_name="timer", schedule="%WATCH_TICK_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def run_watcher_tick(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """The run watcher: each tick looks at the factory when a look is due and hands each
    change to its run's orchestration. A timer, not a Durable activity, so its looks never
    queue behind the runs' own activities; the host runs one tick at a time app-wide. Its
    name is not the `run_watcher` orchestrator's of earlier versions, so an instance of that
    left from before an upgrade fails plainly rather than meeting a timer of its name."""
    from shared.orchestration.starters import watch_and_hand_over
    from shared.services import get_services

    result = await watch_and_hand_over(client, get_services())
    if "skipped" not in result:
        log.info("run watcher: %s", result)


@bp.timer_trigger(arg_name="timer", schedule="%RETENTION_SCHEDULE%", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def retention(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """RETENTION_DAYS: purge what finished runs left behind (state and Durable history)."""
    from shared.orchestration.starters import apply_retention
    from shared.services import get_services

    result = await apply_retention(client, get_services())
    log.info("retention: %s", result)


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def on_blob_created(event: func.EventGridEvent,
                          client: df.DurableOrchestrationClient) -> None:
    from shared.landing.events import IgnoredEvent, parse_blob_created
    from shared.orchestration.starters import note_landed_blob
    from shared.services import get_services

    services = get_services()
    try:
        data = event.get_json()
        blob = parse_blob_created(event.event_type, event.subject,
                                  data if isinstance(data, dict) else None,
                                  services.settings.landing_container, services.feeds.locate)
    except IgnoredEvent as why:
        log.info("event %s ignored: %s", event.id, why)
        return
    sealer = await note_landed_blob(client, services, blob.kind, feed=blob.feed)
    log.info("event %s: %s landed; sealer %s", event.id, blob.name, sealer)
