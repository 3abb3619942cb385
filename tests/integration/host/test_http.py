"""HTTP triggers on the host stand-in: routes with parameters and constraints, methods,
auth levels with the keys the host created, the body limit, errors."""
from __future__ import annotations

import pytest
import requests

from devstack.host import HostProcess
from tests.integration.host.conftest import WEB_APP, host_settings


@pytest.fixture(scope="module")
def web_host(azurite, out_dir, tmp_path_factory):
    host = HostProcess(host_settings(azurite, out_dir, TICK_SCHEDULE="0 0 0 1 1 *",
                                     DEVSTACK_HOST_MAX_BODY_BYTES="1024"),
                       app=WEB_APP, state_dir=tmp_path_factory.mktemp("web-state"))
    host.start()
    yield host
    host.stop()


def test_function_auth_needs_a_key(web_host):
    url = f"{web_host.base_url}/api/items/42"
    assert requests.get(url).status_code == 401
    assert requests.get(url, headers={"x-functions-key": "wrong"}).status_code == 401
    ok = requests.get(url, params={"q": "x"}, headers={"x-functions-key": web_host.function_key,
                                                        "x-test": "t1"})
    assert ok.status_code == 200
    assert ok.headers["X-Served-By"] == "sample"
    assert ok.headers["Content-Type"].startswith("application/json")
    body = ok.json()
    assert body["id"] == "42" and body["q"] == "x" and body["agent"] == "t1"
    assert body["url"].startswith(f"{web_host.base_url}/api/items/42")
    by_code = requests.get(url, params={"code": web_host.function_key})
    assert by_code.status_code == 200
    assert requests.get(url, params={"code": web_host.master_key}).status_code == 200


def test_admin_level_takes_only_the_master_key(web_host):
    url = f"{web_host.base_url}/api/admin-only"
    assert requests.get(url, params={"code": web_host.function_key}).status_code == 401
    r = requests.get(url, params={"code": web_host.master_key})
    assert r.status_code == 200 and r.text == "admin ok"


def test_methods_and_route_constraints(web_host):
    key = {"x-functions-key": web_host.function_key}
    created = requests.post(f"{web_host.base_url}/api/items/7", data=b"hello", headers=key)
    assert created.status_code == 201 and created.json()["body"] == "hello"
    assert requests.put(f"{web_host.base_url}/api/items/7", headers=key).status_code == 404
    assert requests.get(f"{web_host.base_url}/api/items/seven", headers=key).status_code == 404
    assert requests.get(f"{web_host.base_url}/api/nothing-here").status_code == 404


def test_anonymous_catch_all_route_returning_a_string(web_host):
    r = requests.get(f"{web_host.base_url}/api/open/a/b/c")
    assert r.status_code == 200 and r.text == "rest=a/b/c"


def test_body_over_the_limit_is_413(web_host):
    url = f"{web_host.base_url}/api/items/1"
    key = {"x-functions-key": web_host.function_key}
    assert requests.post(url, data=b"x" * 1024, headers=key).status_code == 201
    assert requests.post(url, data=b"x" * 1025, headers=key).status_code == 413


def test_a_failing_function_is_a_500_without_a_stack_trace(web_host):
    r = requests.get(f"{web_host.base_url}/api/boom")
    assert r.status_code == 500
    assert "Traceback" not in r.text and "bad handler" not in r.text
