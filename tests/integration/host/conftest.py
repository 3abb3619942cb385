"""Fixtures for the host stand-in tests: settings for a host on the session's Azurite with
a task hub of its own, and running hosts for the sample apps."""
from __future__ import annotations

import uuid

import pytest

from devstack.host import HostProcess

DURABLE_APP = "tests.integration.host.sample_apps.durable_app"
WEB_APP = "tests.integration.host.sample_apps.web_app"


def host_settings(azurite, out_dir, **extra) -> dict[str, str]:
    return {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsStorage": azurite.connection_string,
        "STORAGE_CONNECTION_STRING": azurite.connection_string,
        "TASK_HUB_NAME": "hub" + uuid.uuid4().hex[:12],
        "SAMPLE_OUT_DIR": str(out_dir),
        "DEVSTACK_EVENTGRID_JOURNAL": str(azurite.journal),
        **extra,
    }


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sample-out")


@pytest.fixture(scope="module")
def durable_host(azurite, out_dir, tmp_path_factory):
    host = HostProcess(host_settings(azurite, out_dir), app=DURABLE_APP,
                       state_dir=tmp_path_factory.mktemp("host-state"))
    host.start()
    yield host
    host.stop()
