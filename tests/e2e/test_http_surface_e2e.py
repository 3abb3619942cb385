"""The HTTP surface on the whole local stack: what strangers see of health, names that
would escape the landing layout, malformed route ids, and the whole API fuzzed from its
own OpenAPI document (Schemathesis).

The stack has no Event Grid watcher: a file landed here is claimed only if a request
claims it, so "nothing was claimed" can be checked."""
from __future__ import annotations

import copy
import json
from datetime import date

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from shared.openapi import document
from tests.e2e.conftest import module_stack

pytestmark = pytest.mark.slow

surface = module_stack("http-surface", {"DEVSTACK_EVENTGRID_WATCH": ""})
TRAVERSAL = "labelled/2024/01/01/../../../../other-container/x.csv"
DAY = "labelled/2024/01/01"
# What claiming or starting a batch writes in the state container (claims, manifests,
# pending markers, run records and their indexes).
BATCH_STATE = ("claims/", "manifests/", "pending/", "runs/", "runs-index/", "runs-active/")


def anonymous(stack, path: str, **kw) -> requests.Response:
    return requests.get(f"{stack.stack.host.base_url}/api/{path}", timeout=30, **kw)


def inject_adf_fault(stack, **fault) -> None:
    r = requests.post(f"{stack.stack.emulator.endpoint}/_emulator/faults", json=fault,
                      verify=str(stack.stack.emulator.ca_file), timeout=10)
    r.raise_for_status()


# --- health ----------------------------------------------------------------------------------


def test_anonymous_health_shows_only_ok_from_a_cached_check(surface):
    fresh = surface.api.request("GET", "health/details")
    assert fresh.status_code == 200 and fresh.json()["checks"]["dataFactory"]["ok"] is True
    # The next real check of the factory fails (403: not retried by the client).
    inject_adf_fault(surface, method="GET", pathContains="/factories/", status=403, count=1)
    answers = [anonymous(surface, "health") for _ in range(30)]
    # Within the interval every anonymous answer is the cached one: no check ran, so the
    # fault is still waiting for the next real check.
    assert {(r.status_code, r.text) for r in answers} == {(200, '{"ok": true}')}
    assert all(r.json() == {"ok": True} for r in answers)
    failing = surface.api.request("GET", "health/details")
    assert failing.status_code == 503 and failing.json()["checks"]["dataFactory"]["ok"] is False
    # A detailed check refreshes the cached verdict; strangers learn nothing more from it.
    down = anonymous(surface, "health")
    assert down.status_code == 503 and down.json() == {"ok": False}
    assert surface.api.request("GET", "health/details").status_code == 200
    assert anonymous(surface, "health").json() == {"ok": True}


def test_health_details_need_the_function_key(surface):
    host = surface.stack.host
    assert anonymous(surface, "health/details").status_code == 401
    assert anonymous(surface, "health/details",
                     headers={"x-functions-key": "not-the-key"}).status_code == 401
    by_query = anonymous(surface, "health/details", params={"code": host.function_key})
    assert by_query.status_code == 200 and set(by_query.json()["checks"]) >= {
        "settings", "storage", "dataFactory"}


# --- names outside the layout ------------------------------------------------------------------


def state_blobs(stack) -> list[str]:
    return [b.name for b in stack.services().state.list("")]


def test_traversal_and_alias_names_are_refused_and_nothing_is_claimed_or_started(surface):
    from azure.storage.blob import BlobServiceClient

    from training.generate import upload_batch

    real = upload_batch("labelled", 20, seed=5, date=date(2024, 1, 1), name="a",
                        container=surface.settings["LANDING_CONTAINER"],
                        connection_string=surface.settings["STORAGE_CONNECTION_STRING"])
    assert real == f"{DAY}/a.csv"
    landing = surface.services().landing
    try:
        before = state_blobs(surface)
        for body in ({"files": [TRAVERSAL]}, {"files": [f"{DAY}/x/../a.csv"]},
                     {"files": [real, f"{DAY}/./a.csv"]},
                     {"prefix": "labelled/2024/01/01/../../../"}):
            r = surface.api.request("POST", "runs", json=body)
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"] == "name outside the landing layout"
            detail = r.json()["detail"]
            # The field, and the rule: no empty, "." or ".." segment.
            assert detail.startswith(next(iter(body))) and "'..' segment" in detail, detail
        after = state_blobs(surface)
        # (the freshness monitor may write its own markers and alerts meanwhile)
        new = set(after) - set(before)
        assert not [n for n in new if n.startswith(BATCH_STATE)], new
        assert not [n for n in after if n.startswith(BATCH_STATE) or "other-container" in n
                    or "x.csv" in n or "a.csv" in n], after
        assert surface.api.runs() == []
        assert not [i for i in surface.durable_instances() if i["name"] == "pipeline_run"]
        service = BlobServiceClient.from_connection_string(
            surface.settings["STORAGE_CONNECTION_STRING"])
        assert "other-container" not in [c.name for c in service.list_containers()]
        assert landing.get_blob_client(real).exists()  # the aliased file is still there
    finally:
        landing.delete_blob(real)


def test_hostile_bodies_get_a_4xx_naming_the_problem_never_a_500(surface):
    api = surface.api
    for body, status, named in [
        (b"[" * 100_000, 400, "nested too deeply"),
        (b'{"maxReruns": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
        (b'{"trainOptions": {"epochs": NaN}}', 400, "NaN is not a JSON number"),
        (b"null", 400, "JSON object"),
        (json.dumps({"files": ["labelled\\2024\\01\\01\\a.csv"]}).encode(), 400, "backslash"),
        (json.dumps({"files": ["labelled/\u0662\u0660\u0662\u0664/01/01/a.csv"]}).encode(), 400,
         "files[0]"),
        (json.dumps({"prefix": "labelled/2024/01/01/\u0000"}).encode(), 400,
         "control character"),
        (b" " * (1024 * 1024 + 1), 413, "limit"),
    ]:
        r = api.request("POST", "runs", data=body, headers={"Content-Type": "application/json"})
        assert r.status_code == status and named in r.json()["detail"], (body[:60], r.text)
    for path, status in (("runs?limit=" + "9" * 5000, 400), ("runs?limit=", 400),
                         ("runs?kind=", 400), ("alerts?limit=" + "1" * 4301, 400)):
        r = api.request("GET", path)
        assert r.status_code == status and r.json()["error"] == "invalid request", (path, r.text)
    assert requests.post(f"{surface.stack.host.base_url}/api/runs", timeout=10,
                         headers={"x-functions-key": "wrong"}).status_code == 401


# --- the API fuzzed from its own document ---------------------------------------------------

FUZZ_EXAMPLES = 25  # per operation and generation mode (valid requests; requests that break it)


@schemathesis.check
def no_undocumented_server_error(ctx, response, case):
    """A 5xx is a bug unless the operation documents it (only health's 503: the stack is
    unhealthy, which the health test above provokes on purpose and undoes)."""
    documented = {str(s) for s in case.operation.responses.status_codes}
    if response.status_code >= 500 and str(response.status_code) not in documented:
        raise AssertionError(f"{response.status_code} from {case.operation.label}: "
                             f"{response.text[:500]}")


CHECKS = [no_undocumented_server_error,
          schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance,
          schemathesis.checks.response_schema_conformance,
          schemathesis.checks.response_headers_conformance,
          schemathesis.checks.negative_data_rejection,
          schemathesis.checks.ignored_auth]


@pytest.fixture(scope="module")
def api_schema(surface):
    """The document as the running app serves it, loaded by Schemathesis."""
    base = surface.stack.host.base_url
    config = schemathesis.Config.from_dict({"base-url": f"{base}/api"})
    return schemathesis.openapi.from_url(f"{base}/api/openapi.json", config=config, timeout=30)


def documented_exchange(api_schema, stack, method, path, **case_kw):
    """One request made from the document and its answer checked against it."""
    key = {"x-functions-key": stack.stack.host.function_key}
    case = api_schema[path][method].Case(**case_kw)
    response = case.call(headers=key, timeout=60)
    case.validate_response(response, checks=CHECKS, headers=key)
    return response


def test_a_real_run_and_its_rerun_are_answered_as_documented(api_schema, surface):
    """What the fuzz cannot reach on an empty landing zone: a run that exists. On a stack
    without a champion model a score-only run fails at Score, quickly."""
    blob = surface.land("unlabelled", 50, seed=7, name="surface-run")
    started = documented_exchange(api_schema, surface, "POST", "/runs", body={"files": [blob]})
    assert started.status_code == 202
    batch_id = started.json()["runs"][0]["batchId"]
    record = surface.api.wait_for_run(batch_id, timeout=240)
    assert record["status"] == "failed", record
    got = documented_exchange(api_schema, surface, "GET", "/runs/{id}",
                              path_parameters={"id": batch_id})
    assert got.status_code == 200 and got.json()["error"]["activity"] == "Score"
    listed = documented_exchange(api_schema, surface, "GET", "/runs", query={"limit": 5})
    assert [r["batchId"] for r in listed.json()["runs"]] == [batch_id]
    not_running = documented_exchange(api_schema, surface, "POST", "/runs/{id}/cancel",
                                      path_parameters={"id": batch_id})
    assert not_running.status_code == 409 and not_running.json()["error"] == "run is not running"
    rerun = documented_exchange(api_schema, surface, "POST", "/runs/{id}/rerun",
                                path_parameters={"id": batch_id})
    assert rerun.status_code == 202 and rerun.json()["rerunOf"] == record["adfRunIds"][-1]
    again = surface.api.wait_for_rerun(batch_id, 2)
    assert again["status"] == "failed"
    again = documented_exchange(api_schema, surface, "GET", "/runs/{id}",
                                path_parameters={"id": batch_id})
    assert len(again.json()["adfRunIds"]) == 2


# Schemathesis' own pytest parametrization does not run under pytest 9 (it sets
# `request.node._nodeid`), so each documented operation is a test here, and Hypothesis
# drives the operation's strategies: valid requests, then requests that break the document.
OPERATIONS = [(method.upper(), path) for path, item in document()["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")]


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_generated_requests_as_its_document_says(
        api_schema, surface, method, path):
    operation = api_schema[path][method]
    key = {"x-functions-key": surface.stack.host.function_key}
    calls = []

    def exchange(case):
        response = case.call(headers=key, timeout=60)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=key)

    documented = document()["paths"][path][method.lower()]
    takes_input = "parameters" in documented or "requestBody" in documented
    for mode in (GenerationMode.POSITIVE, *[GenerationMode.NEGATIVE] * takes_input):
        run = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))(
            given(operation.as_strategy(generation_mode=mode))(exchange))
        run()
    assert calls  # requests were made and answered


def test_the_checks_would_notice_an_unenforced_key_and_a_wrong_error_shape(surface):
    """The fuzz above passes only if its checks bite: against a document that claims a key
    where none is needed, and an error shape the app does not send, they fail."""
    from schemathesis.core.failures import FailureGroup

    doc = copy.deepcopy(document())
    del doc["paths"]["/openapi.json"]["get"]["security"]  # claims the function key
    doc["components"]["schemas"]["Error"]["required"].append("trace")
    base = surface.stack.host.base_url
    wrong = schemathesis.openapi.from_dict(
        doc, config=schemathesis.Config.from_dict({"base-url": f"{base}/api"}))
    key = {"x-functions-key": surface.stack.host.function_key}
    case = wrong["/openapi.json"]["GET"].Case()
    response = case.call(headers=key)
    assert response.status_code == 200
    with pytest.raises(FailureGroup, match="not enforced|without authentication"):
        case.validate_response(response, checks=CHECKS, headers=key)
    case = wrong["/runs/{id}"]["GET"].Case(path_parameters={"id": "not-a-batch"})
    response = case.call(headers=key)
    assert response.status_code == 400
    with pytest.raises(FailureGroup, match="trace"):
        case.validate_response(response, checks=CHECKS, headers=key)


# --- malformed route ids (last: it stops storage) --------------------------------------------

MALFORMED_IDS = ["not-a-batch", "labelled-0123", "..%2F..%2Fglue-state%2Fruns%2Fx",
                 "labelled-0123456789abcdef0123%2F..", "LABELLED-0123456789abcdef0123",
                 "unlabelled-" + "a" * 2000]


def test_a_malformed_run_id_is_refused_before_any_storage_call(surface):
    """With storage stopped, a request that touched it would fail or hang on retries: a
    prompt 400 naming the id shows the check comes first."""
    from azure.core.exceptions import ServiceRequestError
    from azure.storage.blob import BlobServiceClient

    azurite = surface.stack.azurite
    azurite.stop()
    try:
        probe = BlobServiceClient.from_connection_string(
            surface.settings["STORAGE_CONNECTION_STRING"], retry_total=0)
        with pytest.raises(ServiceRequestError):  # storage is really down
            probe.get_account_information()
        for run_id in MALFORMED_IDS:
            for method, path in (("GET", f"runs/{run_id}"), ("POST", f"runs/{run_id}/cancel"),
                                 ("POST", f"runs/{run_id}/rerun")):
                r = requests.request(method, f"{surface.stack.host.base_url}/api/{path}",
                                     headers={"x-functions-key": surface.stack.host.function_key},
                                     timeout=5)
                assert r.status_code == 400, (method, path, r.status_code, r.text[:200])
                assert r.json()["error"] == "invalid run id"
                assert r.json()["detail"].startswith("id: expected a batch id")
    finally:
        azurite.start()
