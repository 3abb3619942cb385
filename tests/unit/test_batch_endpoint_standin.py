"""The batch endpoint stand-in's contract, at its HTTP boundary and without a job: a bearer
token for https://ml.azure.com is required, the api-version too, bodies are checked and
refused naming the field, URIs must name a datastore it knows."""
from __future__ import annotations

import json

import pytest
import requests

from devstack.adf.activities import managed_identity_token
from devstack.aml_endpoint import BatchEndpointStandIn, parse_invoke, resolve_uri

API = "?api-version=2020-09-01-dataplanepreview"
GOOD = {"properties": {
    "InputData": {"input_data": {"JobInputType": "UriFolder",
                                 "Uri": "azureml://datastores/mldata/paths/curated/b/"}},
    "OutputData": {"score": {"JobOutputType": "UriFile",
                             "Uri": "azureml://datastores/mldata/paths/predictions/b/p.csv"}}}}


@pytest.fixture(scope="module")
def endpoint():
    e = BatchEndpointStandIn("UseDevelopmentStorage=true", {"mldata": "ml-data"},
                             model_container="ml-data").start()
    yield e
    e.stop()


def _auth(resource="https://ml.azure.com") -> dict:
    return {"Authorization": f"Bearer {managed_identity_token(resource)}"}


@pytest.mark.parametrize("headers, code", [
    ({}, "Unauthorized"),
    ({"Authorization": "Bearer not-a-jwt"}, "Unauthorized"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "Unauthorized"),
    (_auth("https://management.azure.com"), "InvalidAudience"),
])
def test_every_call_needs_a_token_for_azure_ml(endpoint, headers, code):
    for method, url in (("POST", endpoint.endpoint_uri + API),
                        ("GET", f"{endpoint.endpoint_uri}/batchjob-x{API}")):
        r = requests.request(method, url, json=GOOD, headers=headers, timeout=5)
        assert (r.status_code, r.json()["error"]["code"]) == (401, code)
    assert endpoint.jobs == {}


def test_api_version_and_known_jobs(endpoint):
    r = requests.post(endpoint.endpoint_uri, json=GOOD, headers=_auth(), timeout=5)
    assert r.status_code == 400 and "api-version" in r.json()["error"]["message"]
    r = requests.get(f"{endpoint.endpoint_uri}/batchjob-nope{API}", headers=_auth(), timeout=5)
    assert r.status_code == 404


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("properties"), "properties"),
    (lambda d: d["properties"].pop("InputData"), "InputData"),
    (lambda d: d["properties"]["InputData"]["input_data"].update(JobInputType="UriFile"),
     "InputData.input_data"),
    (lambda d: d["properties"]["OutputData"]["score"].pop("Uri"), "OutputData.score"),
    (lambda d: d["properties"]["OutputData"].update(extra={}), "OutputData"),
])
def test_invoke_bodies_are_checked(endpoint, change, field):
    doc = json.loads(json.dumps(GOOD))
    change(doc)
    r = requests.post(endpoint.endpoint_uri + API, json=doc, headers=_auth(), timeout=5)
    assert r.status_code == 400 and field in r.json()["error"]["message"], r.text


def test_uris_name_a_known_datastore():
    source, target = parse_invoke(json.dumps(GOOD).encode())
    assert resolve_uri(source["uri"], {"mldata": "ml-x"}) == ("ml-x", "curated/b/")
    assert resolve_uri(target["uri"], {"mldata": "ml-x"}) == ("ml-x", "predictions/b/p.csv")
    from devstack.aml_endpoint import Refused
    with pytest.raises(Refused, match="datastore 'other'"):
        resolve_uri("azureml://datastores/other/paths/x", {"mldata": "ml-x"})
    with pytest.raises(Refused, match="expected azureml://"):
        resolve_uri("https://acct.blob.core.windows.net/ml/x", {"mldata": "ml-x"})


def test_stopping_removes_the_jobs_working_folders():
    e = BatchEndpointStandIn("UseDevelopmentStorage=true", {"mldata": "ml-data"},
                             model_container="ml-data").start()
    work = e._work
    (work / "batchjob-x").mkdir()
    e.stop()
    assert not work.exists()
