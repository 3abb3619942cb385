import pytest

from devstack.adf.activities import ActivityFailed
from devstack.adf.engine import (
    ApiError,
    block_outcome,
    dependency_met,
    parse_timespan,
    resolve_parameters,
)
from devstack.adf.server import matches, page


def a(name, *deps):
    return {"name": name, "dependsOn": [{"activity": d, "dependencyConditions": c}
                                        for d, c in deps]}


def test_dependency_conditions():
    st = {"A": "Failed", "B": "Succeeded", "C": "Skipped"}
    assert dependency_met({"activity": "A", "dependencyConditions": ["Failed"]}, st)
    assert dependency_met({"activity": "A", "dependencyConditions": ["Completed"]}, st)
    assert not dependency_met({"activity": "C", "dependencyConditions": ["Completed"]}, st)
    assert dependency_met({"activity": "C", "dependencyConditions": ["Skipped"]}, st)
    assert dependency_met({"activity": "B"}, st)  # default: Succeeded
    assert dependency_met({"activity": "A", "dependencyConditions": ["Succeeded", "Failed"]}, st)


def test_leaf_rule():
    acts = [a("A"), a("B", ("A", ["Succeeded"])), a("C", ("A", ["Failed"]))]
    # A failed, B skipped (-> parent A failed), C handled it: the run fails because of B's path
    assert block_outcome(acts, {"A": "Failed", "B": "Skipped", "C": "Succeeded"}) == (False, ["A"])
    # try/catch without a success path: only C is a leaf
    catch = [a("A"), a("C", ("A", ["Failed"]))]
    assert block_outcome(catch, {"A": "Failed", "C": "Succeeded"}) == (True, [])
    assert block_outcome([a("X")], {"X": "Succeeded"}) == (True, [])


def test_timespans():
    assert parse_timespan("0.00:30:00", "t") == 1800
    assert parse_timespan("1.02:03:04", "t") == 86400 + 7384
    assert parse_timespan("00:00:05", "t") == 5
    with pytest.raises(ActivityFailed, match="not a timespan"):
        parse_timespan("30 minutes", "timeout of activity 'A'")


def test_parameters_defaults_and_missing():
    p = {"properties": {"parameters": {"a": {"type": "string"},
                                       "b": {"type": "string", "defaultValue": "x"},
                                       "o": {"type": "object", "defaultValue": {}}}}}
    assert resolve_parameters(p, {"a": "1", "o": '{"k": 2}'}) == {"a": "1", "b": "x", "o": {"k": 2}}
    with pytest.raises(ApiError, match="a"):
        resolve_parameters(p, {})


def test_filters_and_keyset_paging():
    items = [{"runId": f"r{i:03}", "runStart": f"2026-01-01T00:{i // 60:02}:{i % 60:02}Z",
              "pipelineName": "P" if i % 2 else "Q", "status": "Succeeded"} for i in range(250)]
    p = [i for i in items if matches(i, [{"operand": "PipelineName", "operator": "Equals",
                                          "values": ["p"]}])]
    assert len(p) == 125
    seen, body = [], {}
    while True:
        result = page(items, body, "runStart", "runId")
        seen += [i["runId"] for i in result["value"]]
        if "continuationToken" not in result:
            break
        body = {"continuationToken": result["continuationToken"]}
        items.append({"runId": f"new{len(items)}", "runStart": "2026-01-01T09:00:00Z"})
    assert len(seen) == len(set(seen)) and set(seen) == {i["runId"] for i in items}
    with pytest.raises(ApiError):
        matches(items[0], [{"operand": "Colour", "operator": "Equals", "values": ["x"]}])
