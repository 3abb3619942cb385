"""Orchestrators and their activities, each a thin wrapper: the orchestrators' logic lives
in `shared.orchestration`, the activities' I/O in `shared.runs.activities` and
`shared.monitoring`. Names come from the Durable contract (`shared.orchestration.contract`),
written out beside each function as the worker registers it."""
import azure.durable_functions as df

bp = df.Blueprint()


def _services():
    from shared.services import get_services

    return get_services()


def _traced(name: str, payload, call):
    """Run an activity of a run with its ids in the log context (and a span and metrics
    when telemetry is on: `shared.telemetry`)."""
    from shared import telemetry

    with telemetry.activity(name, payload) as scope:
        result = call(_services(), payload)
        scope.learned(result)
    if name == "begin_run":
        telemetry.run_started(payload.get("batch", {}).get("mode"))
    elif name == "finish_run":
        telemetry.run_finished(result, payload.get("mode"))
    return result


# --- orchestrators ---------------------------------------------------------------------------

@bp.function_name("pipeline_run")  # contract.PIPELINE_RUN
@bp.orchestration_trigger(context_name="context")
def pipeline_run(context: df.DurableOrchestrationContext):
    from shared.orchestration.pipeline_run import pipeline_run as logic

    return (yield from logic(context))


@bp.function_name("batch_sealer")  # contract.BATCH_SEALER
@bp.orchestration_trigger(context_name="context")
def batch_sealer(context: df.DurableOrchestrationContext):
    from shared.orchestration.batch_sealer import batch_sealer as logic

    return (yield from logic(context))


@bp.function_name("freshness_monitor")  # contract.FRESHNESS_MONITOR
@bp.orchestration_trigger(context_name="context")
def freshness_monitor(context: df.DurableOrchestrationContext):
    from shared.orchestration.freshness_monitor import freshness_monitor as logic

    return (yield from logic(context))


# --- activities of pipeline_run ----------------------------------------------------------------

@bp.function_name("begin_run")  # contract.BEGIN_RUN
@bp.activity_trigger(input_name="payload")
def begin_run(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("begin_run", payload, activities.begin_run)


@bp.function_name("start_adf_run")  # contract.START_ADF_RUN
@bp.activity_trigger(input_name="payload")
def start_adf_run(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("start_adf_run", payload, activities.start_adf_run)


@bp.function_name("rerun_adf_run")  # contract.RERUN_ADF_RUN
@bp.activity_trigger(input_name="payload")
def rerun_adf_run(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("rerun_adf_run", payload, activities.rerun_adf_run)


@bp.function_name("get_adf_run_status")  # contract.GET_ADF_RUN_STATUS
@bp.activity_trigger(input_name="payload")
def get_adf_run_status(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("get_adf_run_status", payload, activities.get_adf_run_status)


@bp.function_name("cancel_adf_run")  # contract.CANCEL_ADF_RUN
@bp.activity_trigger(input_name="payload")
def cancel_adf_run(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("cancel_adf_run", payload, activities.cancel_adf_run)


@bp.function_name("finish_run")  # contract.FINISH_RUN
@bp.activity_trigger(input_name="payload")
def finish_run(payload: dict) -> dict:
    from shared.runs import activities

    return _traced("finish_run", payload, activities.finish_run)


# --- activities of batch_sealer and freshness_monitor ------------------------------------------

@bp.function_name("seal_batches")  # contract.SEAL_BATCHES
@bp.activity_trigger(input_name="payload")
def seal_batches(payload: dict) -> dict:
    from shared.runs import activities

    return activities.seal_batches(_services(), payload)


@bp.function_name("start_batch_runs")  # contract.START_RUNS
@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def start_batch_runs(payload: dict, client: df.DurableOrchestrationClient) -> list:
    from shared.landing.batch import Batch
    from shared.orchestration.starters import start_batches

    batches = [Batch.model_validate(b) for b in payload["batches"]]
    return await start_batches(client, _services(), batches)


@bp.function_name("check_freshness")  # contract.CHECK_FRESHNESS
@bp.activity_trigger(input_name="payload")
def check_freshness(payload: dict) -> dict:
    from datetime import datetime

    from shared.monitoring.freshness import check_freshness as check

    return check(_services(), datetime.fromisoformat(payload["at"]))
