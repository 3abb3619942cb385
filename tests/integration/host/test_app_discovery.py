"""The host finds the app as the Python worker does: the one module-level FunctionApp/DFApp
of the module, whatever its variable is called; two of them is an error naming both."""
from __future__ import annotations

import pytest
import requests

from devstack.host import HostProcess
from tests.integration.host.conftest import host_settings
from tests.polling import wait_until

CHAINING_APP = "tests.integration.host.sample_apps.chaining_app"
TWO_APPS = "tests.integration.host.sample_apps.two_apps"


def test_an_app_named_myApp_is_indexed_and_its_orchestration_completes(azurite, tmp_path):
    host = HostProcess(host_settings(azurite, tmp_path), app=CHAINING_APP,
                       state_dir=tmp_path / "state").start()
    try:
        listing = host.output()
        assert all(name in listing for name in ("http_start", "hello_orchestrator", "hello"))
        r = requests.post(f"{host.base_url}/api/orchestrators/hello_orchestrator", timeout=30)
        assert r.status_code == 202, r.text
        status_url = r.json()["statusQueryGetUri"]
        done = wait_until(lambda: (s := requests.get(status_url, timeout=10).json())
                        ["runtimeStatus"] in ("Completed", "Failed") and s, timeout=60)
        assert done["runtimeStatus"] == "Completed", done
        assert done["output"] == ["Hello Seattle", "Hello Tokyo", "Hello London"]
    finally:
        host.stop()


def test_two_apps_at_module_level_stop_the_host_naming_both(azurite, tmp_path):
    host = HostProcess(host_settings(azurite, tmp_path), app=TWO_APPS,
                       state_dir=tmp_path / "state")
    with pytest.raises(RuntimeError) as failed:
        host.start()
    message = str(failed.value)
    assert "host exited with 2" in message
    assert "more than one function app" in message
    assert "`app` (FunctionApp)" in message and "`myApp` (DFApp)" in message
