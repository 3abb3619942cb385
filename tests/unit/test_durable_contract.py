"""The Durable contract: every name the orchestrators call is a registered function of the
right kind, instance ids derive from the work, and the retry policy comes from settings."""
from datetime import UTC, datetime

from shared.orchestration import contract
from shared.settings import load_settings
from tests.app_index import app_functions

BASE = {"STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def registered() -> dict[str, str]:
    """function name -> trigger type"""
    out = {}
    for f in app_functions():
        trigger = next(b.type for b in f.get_bindings() if b.type.endswith("Trigger"))
        out[f.get_function_name()] = trigger
    return out


def test_every_contract_name_is_registered_with_its_trigger():
    fns = registered()
    orchestrators = {contract.PIPELINE_RUN, contract.BATCH_SEALER, contract.FRESHNESS_MONITOR}
    for name in orchestrators:
        assert fns.get(name) == "orchestrationTrigger", name
    activities = [v for k, v in vars(contract).items()
                  if k.isupper() and isinstance(v, str) and k not in (
                      "PIPELINE_RUN", "BATCH_SEALER", "FRESHNESS_MONITOR",
                      "CANCEL_EVENT", "RUN_CHANGED_EVENT", "MONITOR_INSTANCE")]
    assert len(activities) == 9
    for name in activities:
        assert fns.get(name) == "activityTrigger", name
    # ... and nothing is registered as an orchestrator or activity outside the contract.
    durable = {k for k, v in fns.items() if v in ("orchestrationTrigger", "activityTrigger")}
    assert durable == set(activities) | orchestrators


def test_the_run_watcher_is_a_timer_on_its_tick_setting_not_an_orchestration():
    """Its looks must not wait in the Durable activity queue behind the runs' own work."""
    watcher = next(f for f in app_functions() if f.get_function_name() == "run_watcher_tick")
    timer = next(b for b in watcher.get_bindings() if b.type == "timerTrigger")
    assert timer.schedule == "%WATCH_TICK_SCHEDULE%" and not timer.run_on_startup


def test_instance_ids_derive_from_the_work():
    t = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
    assert contract.sealer_instance_id("labelled", t, 60) == f"seal-labelled-{int(t.timestamp()) - 30}"
    assert contract.sealer_window_end(contract.sealer_instance_id("labelled", t, 60), 60) == \
        datetime(2026, 11, 24, 12, 1, 0, tzinfo=UTC)
    assert contract.rerun_instance_id("labelled-abc", 2) == "labelled-abc-rerun2"


def test_the_retry_policy_comes_from_settings_and_old_inputs_get_the_default():
    s = load_settings({**BASE, "ACTIVITY_RETRY_ATTEMPTS": "7", "ACTIVITY_RETRY_FIRST_SECONDS": "0.5"})
    policy = contract.retry_policy(s)
    opts = contract.retry_options(policy)
    assert (opts.max_number_of_attempts, opts.first_retry_interval_in_milliseconds) == (7, 500)
    old = contract.retry_options(None)
    assert (old.max_number_of_attempts, old.first_retry_interval_in_milliseconds) == (4, 2000)
