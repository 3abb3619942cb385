"""The whole local stack (Azurite, the Data Factory emulator, the host stand-in running
function_app, an alert receiver) for end-to-end tests."""
from __future__ import annotations

import os
import time
from datetime import datetime

import pytest
import requests

from devstack.api_client import AppClient
from devstack.stack import LocalStack
from tests.polling import wait_until

# Fast clocks for tests; everything else is the example settings.
FAST = {
    "POLL_INTERVAL_SECONDS": "1",
    "POLL_MAX_INTERVAL_SECONDS": "2",
    "POLLS_PER_GENERATION": "3",  # every run continues as new several times
    "WATCH_INTERVAL_SECONDS": "1",
    "WATCH_TICK_SCHEDULE": "* * * * * *",
    "RUN_SAFETY_NET_SECONDS": "20",
    "EVENT_BATCH_WINDOW_SECONDS": "3",
    "LANDING_QUIET_SECONDS": "0",
    "PENDING_RESTART_SECONDS": "30",
    "DEVSTACK_EVENTGRID_DUPLICATE": "true",
    "DEVSTACK_EVENTGRID_POLL_SECONDS": "0.5",
    "SWEEP_SCHEDULE": "0 0 0 1 1 *",  # the sweep is tested on its own stack
    "MAX_BATCH_FILES": "8",
    "ALERT_DELIVERY_BACKOFF_SECONDS": "0.2",
    "TRAIN_OPTIONS": '{"epochs": 12}',
    "DEVSTACK_ADF_RETRY_INTERVAL_SECONDS": "1",  # a failing activity's retries, without 30 s waits
}


class Stack:
    """A started LocalStack plus what tests use with it."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.api = AppClient(stack.host.base_url, stack.host.function_key)
        self.settings = stack.settings()

    def land(self, kind: str, rows: int, variant: str = "clean", seed: int = 0,
             name: str | None = None) -> str:
        from training.generate import upload_batch

        return upload_batch(kind, rows, variant, seed, name=name,
                            container=self.settings["LANDING_CONTAINER"],
                            connection_string=self.settings["STORAGE_CONNECTION_STRING"])

    def services(self):
        """The app's services pointed at this stack (as the host's app sees them)."""
        from shared.services import get_services

        self.stack.apply_to_environment()
        return get_services()

    def adf_runs_for(self, batch_id: str) -> list[dict]:
        return [r for r in self.services().adf.query_runs(24)
                if (r.get("parameters") or {}).get("batchId") == batch_id]

    def durable_instances(self, prefix: str = "", created_from: datetime | None = None
                          ) -> list[dict]:
        """Durable instances (status JSON) as the host's Durable API lists them."""
        params = {"instanceIdPrefix": prefix} if prefix else {}
        if created_from is not None:
            params["createdTimeFrom"] = created_from.isoformat()
        r = requests.get(f"{self.stack.host.base_url}/runtime/webhooks/durabletask/instances",
                         params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def wait_for_instances(self, condition, prefix: str = "",
                           created_from: datetime | None = None,
                           timeout: float = 120.0) -> list[dict]:
        """Poll the Durable API until `condition(instances)` holds; return the instances."""
        deadline = time.monotonic() + timeout
        while True:
            instances = self.durable_instances(prefix, created_from)
            if condition(instances):
                return instances
            if time.monotonic() > deadline:
                raise AssertionError(f"Durable instances {prefix}* never reached the expected "
                                     f"state within {timeout:.0f}s: {instances}")
            time.sleep(0.3)

    def ml_blobs(self, prefix: str) -> list[str]:
        ml = self.services().ml
        assert ml.container.container_name == self.settings["ML_CONTAINER"]
        return [b.name for b in ml.list(prefix)]


def wait_alerts(receiver, kind: str, condition: str, at_least: int = 1,
                timeout: float = 30.0) -> list[dict]:
    """The receiver's `condition` alerts of `kind` once at least `at_least` have arrived."""
    return wait_until(
        lambda: got if len(got := receiver.alerts(kind, condition)) >= at_least else None,
        lambda: f"{at_least} {condition} {kind} alert(s) at the receiver (got rules "
                f"{[a['body']['data']['essentials']['alertRule'] for a in receiver.received]})",
        timeout=timeout, interval=0.2)


def start_stack(tmp_path_factory, name: str, overrides: dict[str, str]) -> Stack:
    stack = LocalStack(tmp_path_factory.mktemp(name), overrides={**FAST, **overrides})
    stack.start()  # stops what it started if it fails part-way
    s = Stack(stack)
    stack.apply_to_environment()
    return s


def module_stack(name: str, overrides: dict[str, str] | None = None):
    """A module-scoped fixture running its own stack; the environment is restored after."""
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        saved = dict(os.environ)
        try:
            s = start_stack(tmp_path_factory, name, overrides or {})
            yield s
            s.stack.stop()
        finally:  # the environment comes back even when the stack did not start
            os.environ.clear()
            os.environ.update(saved)

    return fixture


stack = module_stack("stack")
