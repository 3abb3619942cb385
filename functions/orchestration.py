"""Orchestrators and their activities. The orchestrators' logic lives in
`shared.orchestration`; the activities' I/O in `shared.runs.activities`."""
import azure.durable_functions as df

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def pipeline_run(context: df.DurableOrchestrationContext):
    from shared.orchestration.pipeline_run import pipeline_run as logic

    return (yield from logic(context))


@bp.orchestration_trigger(context_name="context")
def batch_sealer(context: df.DurableOrchestrationContext):
    from shared.orchestration.batch_sealer import batch_sealer as logic

    return (yield from logic(context))


@bp.orchestration_trigger(context_name="context")
def freshness_monitor(context: df.DurableOrchestrationContext):
    from shared.orchestration.freshness_monitor import freshness_monitor as logic

    return (yield from logic(context))


def _activity(module: str, name: str):
    """Register `shared.<module>.<name>` as the activity `name` (imported when it runs)."""
    def run(payload):
        import importlib

        return getattr(importlib.import_module(f"shared.{module}"), name)(payload)

    run.__name__ = name
    return bp.activity_trigger(input_name="payload")(bp.function_name(name)(run))


for _name in ("begin_run", "start_adf_run", "get_adf_run_status", "cancel_adf_run",
              "rerun_adf_run", "finish_run", "seal_batches"):
    _activity("runs.activities", _name)
_activity("monitoring.freshness", "check_freshness")
