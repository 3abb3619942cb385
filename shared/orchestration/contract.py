"""The Durable contract, in one place: orchestrator, activity and event names, instance-id
builders, and the activity retry policy.

Instance ids derive from the work, so a duplicate start collapses onto the running one:
a batch's run is its batch id; a rerun is `<batch>-rerun<N>`; a sealer is its feed, kind
and time window; the freshness monitor is a singleton. The run watcher (a timer trigger, not
an orchestration) finds the owner of an ADF run in the run record of the run's `batchId`
parameter and hands it `RUN_CHANGED_EVENT`. The retry policy comes from settings,
travels in the orchestration input (orchestrators read no settings) and is carried over
by `continue_as_new` and into sub-orchestrations.
"""
from __future__ import annotations

from datetime import UTC, datetime

# Orchestrators
PIPELINE_RUN = "pipeline_run"
BATCH_SEALER = "batch_sealer"
FRESHNESS_MONITOR = "freshness_monitor"

# Activities
BEGIN_RUN = "begin_run"
START_ADF_RUN = "start_adf_run"
RERUN_ADF_RUN = "rerun_adf_run"
GET_ADF_RUN_STATUS = "get_adf_run_status"
CANCEL_ADF_RUN = "cancel_adf_run"
FINISH_RUN = "finish_run"
SEAL_BATCHES = "seal_batches"
START_RUNS = "start_batch_runs"
CHECK_FRESHNESS = "check_freshness"

# External events
CANCEL_EVENT = "cancel"
RUN_CHANGED_EVENT = "run_changed"  # the watcher hands a run's new status to its owner

MONITOR_INSTANCE = "freshness-monitor"


def sealer_instance_id(kind: str, at: datetime, window_seconds: float, feed: str = "") -> str:
    """The sealer for the window containing `at` (every event handler computes the same);
    `feed`: the feed's tag ("" for the default feed: `seal-<kind>-<start>`)."""
    window = max(1, int(window_seconds))
    start = int(at.timestamp()) // window * window
    return f"seal-{feed + '-' if feed else ''}{kind}-{start}"


def sealer_window_end(instance_id: str, window_seconds: float) -> datetime:
    start = int(instance_id.rsplit("-", 1)[1])
    return datetime.fromtimestamp(start + max(1, int(window_seconds)), UTC)


def rerun_instance_id(batch_id: str, attempt: int) -> str:
    """The orchestration of the `attempt`-th manual rerun of a batch's run."""
    return f"{batch_id}-rerun{attempt}"


def retry_policy(settings) -> dict:
    """The activity retry policy as plain JSON, for orchestration inputs."""
    return {"attempts": settings.activity_retry_attempts,
            "firstSeconds": settings.activity_retry_first_seconds}


DEFAULT_RETRY = {"attempts": 4, "firstSeconds": 2.0}  # inputs written before the setting


def retry_options(policy: dict | None):
    """`df.RetryOptions` from a policy carried in an orchestration input."""
    import azure.durable_functions as df

    p = {**DEFAULT_RETRY, **(policy or {})}
    return df.RetryOptions(first_retry_interval_in_milliseconds=int(p["firstSeconds"] * 1000),
                           max_number_of_attempts=int(p["attempts"]))
