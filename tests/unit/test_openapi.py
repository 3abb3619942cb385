"""The OpenAPI document against the app: every HTTP route and method the app registers is in
it with its auth level, nothing else is; it is a valid OpenAPI 3.1 document whose
references resolve; and its request schemas say what the parsers say."""
import json
import re
from pathlib import Path

import jsonschema_rs
import pytest

from shared.api_models import RunRequest, parse_run_request
from shared.errors import BadRequest
from shared.openapi import document
from tests.app_index import app_functions

ROOT = Path(__file__).resolve().parents[2]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DOC = document()


def registered_routes() -> dict[tuple[str, str], str]:
    """(METHOD, /route) -> auth level, of every HTTP-triggered function of the app."""
    out = {}
    for f in app_functions():
        trigger = f.get_trigger()
        if trigger.get_binding_name() != "httpTrigger":
            continue
        t = trigger.get_dict_repr()
        route = "/" + (t.get("route") or f.get_function_name()).strip("/")
        for method in t.get("methods") or []:
            out[(str(getattr(method, "value", method)).upper(), route)] = str(
                getattr(t["authLevel"], "value", t["authLevel"])).lower()
    return out


def documented() -> dict[tuple[str, str], dict]:
    return {(m.upper(), path): op for path, item in DOC["paths"].items()
            for m, op in item.items() if m in METHODS}


def test_every_registered_route_and_method_is_documented_and_nothing_else():
    routes = registered_routes()
    assert len(routes) >= 10  # the app's routes were found at all
    assert set(documented()) == set(routes)


def test_each_operation_declares_the_auth_level_of_its_function():
    ops = documented()
    default = DOC["security"]
    assert {"functionKey": []} in default and {"functionKeyQuery": []} in default
    schemes = DOC["components"]["securitySchemes"]
    assert (schemes["functionKey"]["in"], schemes["functionKey"]["name"]) == (
        "header", "x-functions-key")
    assert (schemes["functionKeyQuery"]["in"], schemes["functionKeyQuery"]["name"]) == (
        "query", "code")
    for key, level in registered_routes().items():
        security = ops[key].get("security", default)
        assert (security == []) == (level == "anonymous"), key
        if level != "anonymous":
            assert "401" in ops[key]["responses"], key


def test_the_server_url_is_the_hosts_route_prefix():
    prefix = json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"]
    assert DOC["servers"] == [{"url": f"/{prefix}"}]


def test_path_parameters_match_the_route_templates():
    params = DOC["components"]["parameters"]
    for (_, path), op in documented().items():
        in_path = set(re.findall(r"\{(\w+)\}", path))
        declared = {(params[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p)["name"]
                    for p in op.get("parameters", [])
                    if (params[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p)["in"] == "path"}
        assert declared == in_path, path


def test_it_is_a_valid_openapi_3_1_document():
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    OPENAPI_31_VALIDATOR.validate(DOC)
    for name, schema in DOC["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def test_every_reference_resolves():
    found = list(refs(DOC))
    assert len(found) > 20
    for ref in found:
        node = DOC
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_every_refusal_is_the_error_shape():
    responses = DOC["components"]["responses"]
    for key, op in documented().items():
        for status, response in op["responses"].items():
            if not status.startswith("4"):
                continue
            response = responses[response["$ref"].rsplit("/", 1)[-1]] if "$ref" in response \
                else response
            if status == "401" and "content" not in response:
                assert "empty body" in response["description"]  # the host's own 401
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (key, status)
    error = DOC["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "detail"]


def test_the_run_request_schema_is_the_parsers_model():
    schema = DOC["components"]["schemas"]["RunRequest"]
    assert schema == RunRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    body = DOC["paths"]["/runs"]["post"]["requestBody"]
    assert body["required"] is False  # no body: sweep now
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/RunRequest")


def validator(name: str):
    doc = json.loads(json.dumps(DOC))
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}",
                                        "components": doc["components"]})


@pytest.mark.parametrize("body", [
    {}, {"mode": "score"}, {"files": ["labelled/2026/11/24/a.csv"], "reason": "ci"},
    {"prefix": "unlabelled/2026/", "timeoutSeconds": 60.5, "maxReruns": 2,
     "trainOptions": {"epochs": 3}},
])
def test_bodies_the_parser_accepts_conform_to_the_document(body):
    assert parse_run_request(json.dumps(body).encode()) is not None
    assert validator("RunRequest").is_valid(body)


@pytest.mark.parametrize("body", [
    {"mode": "fast"}, {"files": []}, {"colour": "red"}, {"timeoutSeconds": 0},
    {"maxReruns": 11}, {"reason": "x" * 501}, {"prefix": ""}, {"files": "a.csv"},
])
def test_bodies_the_document_refuses_the_parser_refuses(body):
    assert not validator("RunRequest").is_valid(body)
    with pytest.raises(BadRequest):
        parse_run_request(json.dumps(body).encode())


def test_the_run_id_parameter_is_the_route_check():
    from shared.landing.batch import check_batch_id

    pattern = DOC["components"]["parameters"]["RunId"]["schema"]["pattern"]
    for value in ["labelled-0123456789abcdef0123", "unlabelled-0123456789abcdef0123-score-"
                  "0123456789ab"]:
        assert re.search(pattern, value) and check_batch_id(value) == value
    for value in ["labelled-0123", "../x", "labelled-0123456789abcdef0123 ", "Labelled-" + "0" * 20]:
        assert not re.search(pattern, value)
        with pytest.raises(BadRequest):
            check_batch_id(value)


def test_the_document_route_serves_the_document():
    import azure.functions as func

    fn = {f.get_function_name(): f.get_user_function() for f in app_functions()}["openapi"]
    response = fn(func.HttpRequest("GET", "http://localhost/api/openapi.json", body=b""))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_body()) == json.loads(json.dumps(DOC))
