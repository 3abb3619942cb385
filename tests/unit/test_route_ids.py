"""A run id in a route is checked before anything is read: the three `runs/{id}` handlers
refuse a malformed id with 400 without touching storage or the Durable client."""
import asyncio
import json

import azure.functions as func
import pytest

import shared.services
from devstack.host.durable.status import client_binding
from tests.app_index import app_functions

HANDLERS = {f.get_function_name(): f.get_user_function() for f in app_functions()}


class Untouchable:
    """Services that fail the test on any use."""

    def __getattr__(self, name):
        raise AssertionError(f"used .{name} before the id was checked")


# A Durable client binding whose API is nowhere (port 9, discard): any use of it fails.
NOWHERE = client_binding("http://127.0.0.1:9", "hub", "key")


def call(name: str, method: str, run_id: str):
    req = func.HttpRequest(method, f"http://localhost/api/runs/{run_id}", body=b"",
                           route_params={"id": run_id})
    return asyncio.run(HANDLERS[name](req, client=NOWHERE))


@pytest.mark.parametrize("run_id", ["", "x", "../../glue-state/runs/x", "labelled-0123",
                                    "labelled-0123456789abcdef0123/..", "labelled-" + "0" * 5000,
                                    "labelled-0123456789ABCDEF0123", "labelled-٠١٢٣٤٥٦٧٨٩0123456789"])
@pytest.mark.parametrize(("name", "method"), [("get_run", "GET"), ("cancel_run", "POST"),
                                              ("rerun_run", "POST")])
def test_a_malformed_id_is_refused_before_any_storage_or_durable_call(
        monkeypatch, name, method, run_id):
    monkeypatch.setattr(shared.services, "get_services", lambda: Untouchable())
    response = call(name, method, run_id)
    assert response.status_code == 400
    body = json.loads(response.get_body())
    assert body["error"] == "invalid run id" and body["detail"].startswith("id: ")


def test_a_well_formed_id_goes_on_to_storage(monkeypatch):
    """The trap above would notice a read: a good id reaches it."""
    monkeypatch.setattr(shared.services, "get_services", lambda: Untouchable())
    with pytest.raises(AssertionError, match="before the id was checked"):
        call("get_run", "GET", "labelled-0123456789abcdef0123")
