"""Durable Functions on the host stand-in: the sample orchestrations run in a real host
subprocess against Azurite, driven over HTTP and with the stock DurableOrchestrationClient."""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import requests
from azure.durable_functions import DurableOrchestrationClient, OrchestrationRuntimeStatus

from devstack.host.durable.status import client_binding
from tests.polling import wait_until

_loop = asyncio.new_event_loop()  # the client keeps one aiohttp session: one loop for all


def run(coro):
    return _loop.run_until_complete(coro)


@pytest.fixture(scope="module", autouse=True)
def _close_client_session():
    yield
    from azure.durable_functions.models.utils import http_utils

    run(http_utils._close_session())


def client(host) -> DurableOrchestrationClient:
    hub = json.loads(host.settings_path.read_text())["Values"]["TASK_HUB_NAME"]
    return DurableOrchestrationClient(client_binding(
        host.base_url, hub, host.system_key("durabletask_extension")))


def start(host, name: str, payload=None, instance_id: str | None = None) -> dict:
    """Start through the sample's HTTP starter (client.start_new +
    create_check_status_response inside the host)."""
    params = {"id": instance_id} if instance_id else {}
    r = requests.post(f"{host.base_url}/api/start/{name}", params=params,
                      data=None if payload is None else json.dumps(payload))
    assert r.status_code == 202, r.text
    body = r.json()
    assert r.headers["Location"] == body["statusQueryGetUri"]
    return body


def status(mgmt: dict, **params) -> dict:
    return requests.get(mgmt["statusQueryGetUri"], params=params).json()


def finished(mgmt: dict, timeout: float = 30.0) -> dict:
    return wait_until(lambda: (s := status(mgmt))["runtimeStatus"] not in
                    ("Pending", "Running") and s, timeout)


def runs(out_dir, kind: str, key: str) -> int:
    path = out_dir / f"{kind}-{key}.log"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_chaining_with_the_check_status_response(durable_host):
    mgmt = start(durable_host, "chain", 5)
    assert {"id", "statusQueryGetUri", "sendEventPostUri", "terminatePostUri",
            "purgeHistoryDeleteUri"} <= mgmt.keys()
    assert mgmt["statusQueryGetUri"].startswith(
        f"{durable_host.base_url}/runtime/webhooks/durabletask/instances/{mgmt['id']}?")
    done = finished(mgmt)
    assert done["runtimeStatus"] == "Completed" and done["output"] == 8
    history = status(mgmt, showHistory="true", showHistoryOutput="true")["historyEvents"]
    steps = [(e["EventType"], e.get("FunctionName"), e.get("Result")) for e in history]
    assert steps == [("ExecutionStarted", "chain", None),
                     ("TaskCompleted", "add_one", 6), ("TaskCompleted", "add_one", 7),
                     ("TaskCompleted", "add_one", 8), ("ExecutionCompleted", None, 8)]


def test_fan_out_fan_in_of_50_activities(durable_host):
    done = finished(start(durable_host, "fan_out", 50))
    assert done["runtimeStatus"] == "Completed"
    assert done["output"] == sum(range(1, 51))


def test_durable_timer_waits_and_fires(durable_host):
    mgmt = start(durable_host, "timer_then_done", 2)
    waiting = wait_until(lambda: (s := status(mgmt))["customStatus"] == "waiting" and s)
    assert waiting["runtimeStatus"] == "Running"
    done = finished(mgmt)
    assert done["customStatus"] == "woke"
    assert done["output"] >= 2.0


def test_external_event_raised_over_the_http_api(durable_host):
    mgmt = start(durable_host, "approval")
    wait_until(lambda: status(mgmt)["customStatus"] == "waiting for approval")
    url = mgmt["sendEventPostUri"].replace("{eventName}", "approve")
    r = requests.post(url, json={"by": "alice"})
    assert r.status_code == 202
    done = finished(mgmt)
    assert done["output"] == {"approved": {"by": "alice"}}
    assert requests.post(url, json={}).status_code == 410  # finished: gone


def test_event_raised_by_the_stock_client_arrives_as_its_json_text(durable_host):
    # The client JSON-encodes the data and then posts that text as JSON, so the orchestrator
    # receives the text (the real host does the same: azure-functions-durable-python#295).
    mgmt = start(durable_host, "approval")
    wait_until(lambda: status(mgmt)["runtimeStatus"] == "Running")
    run(client(durable_host).raise_event(mgmt["id"], "approve", {"by": "bob"}))
    assert json.loads(finished(mgmt)["output"]["approved"]) == {"by": "bob"}


def test_activity_retried_after_failures(durable_host, out_dir):
    key = uuid.uuid4().hex[:8]
    done = finished(start(durable_host, "retrying", {"key": key, "failures": 2,
                                                     "attempts": 4}))
    assert done["output"] == "ok after 3"
    assert runs(out_dir, "flaky", key) == 3


def test_retries_give_up_after_max_attempts(durable_host, out_dir):
    key = uuid.uuid4().hex[:8]
    done = finished(start(durable_host, "retrying", {"key": key, "failures": 9,
                                                     "attempts": 2}))
    assert done["output"] == ("gave up: Activity function 'flaky' failed: RuntimeError: "
                              "flaky failure 2 ")
    assert runs(out_dir, "flaky", key) == 2


def test_failed_activity_raises_in_the_orchestrator_as_in_azure(durable_host):
    message = finished(start(durable_host, "catches"))["output"]
    reason, details = message.split("\n", 1)
    assert reason.startswith("Activity function 'explode' failed: ValueError: cannot handle 7")
    assert json.loads(details)["Message"] == "Exception: ValueError: cannot handle 7"


def test_unhandled_activity_failure_fails_the_orchestration(durable_host):
    done = finished(start(durable_host, "fails"))
    assert done["runtimeStatus"] == "Failed"
    assert "Orchestrator function 'fails' failed" in done["output"]
    assert "cannot handle 1" in done["output"]


def test_continue_as_new_keeps_history_short_over_100_cycles(durable_host):
    done = finished(start(durable_host, "cycles", {"n": 0, "total": 100}), timeout=90)
    assert done["runtimeStatus"] == "Completed"
    assert done["output"]["n"] == 100
    assert done["output"]["maxHistory"] <= 8  # one cycle's worth, never 100 cycles' worth


def test_sub_orchestrations(durable_host):
    mgmt = start(durable_host, "parent", 1)
    assert finished(mgmt)["output"] == [4, 7]
    kid = requests.get(mgmt["statusQueryGetUri"].replace(mgmt["id"], mgmt["id"] + "-kid"))
    assert kid.json()["runtimeStatus"] == "Completed"


def test_terminate(durable_host):
    mgmt = start(durable_host, "waits_forever")
    wait_until(lambda: status(mgmt)["runtimeStatus"] == "Running")
    url = mgmt["terminatePostUri"].replace("{text}", "no longer needed")
    assert requests.post(url).status_code == 202
    done = finished(mgmt)
    assert done["runtimeStatus"] == "Terminated"
    assert done["output"] == "no longer needed"
    assert requests.post(url).status_code == 410


def test_starting_a_running_instance_id_again_is_refused(durable_host):
    instance_id = "batch-" + uuid.uuid4().hex[:8]
    c = client(durable_host)
    assert run(c.start_new("waits_forever", instance_id)) == instance_id
    with pytest.raises(Exception, match="already exists"):
        run(c.start_new("waits_forever", instance_id))
    listed = run(c.get_status_by(instance_id_prefix=instance_id))
    assert [s.instance_id for s in listed] == [instance_id]
    run(c.terminate(instance_id, "done"))
    wait_until(lambda: run(c.get_status(instance_id)).runtime_status ==
             OrchestrationRuntimeStatus.Terminated)
    assert run(c.start_new("chain", instance_id, 1)) == instance_id  # finished: replaced
    wait_until(lambda: run(c.get_status(instance_id)).output == 4)


def test_stock_client_status_query_and_purge(durable_host):
    c = client(durable_host)
    assert not run(c.get_status("no-such-instance"))
    instance_id = run(c.start_new("chain", None, 10))
    done = wait_until(lambda: (s := run(c.get_status(instance_id, show_history=True)))
                    .runtime_status == OrchestrationRuntimeStatus.Completed and s)
    assert done.output == 13 and done.name == "chain"
    completed = run(c.get_status_by(runtime_status=[OrchestrationRuntimeStatus.Completed]))
    assert instance_id in {s.instance_id for s in completed}
    assert run(c.purge_instance_history(instance_id)).instances_deleted == 1
    assert not run(c.get_status(instance_id))


def test_unknown_orchestrator_is_a_400_naming_it(durable_host):
    with pytest.raises(Exception, match="'nope' doesn't exist"):
        run(client(durable_host).start_new("nope"))


def test_wrong_key_on_the_durable_api_is_401(durable_host):
    url = f"{durable_host.base_url}/runtime/webhooks/durabletask/instances/x"
    assert requests.get(url, params={"code": "wrong"}).status_code == 401
    assert requests.get(url).status_code == 404


def test_event_grid_function_starts_an_orchestration_with_its_client(durable_host):
    event_id = uuid.uuid4().hex[:8]
    event = [{"id": event_id, "eventType": "Sample.Start", "subject": "/x", "topic": "/t",
              "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "1", "data": {"n": 40}}]
    r = requests.post(f"{durable_host.base_url}/runtime/webhooks/eventgrid",
                      params={"functionName": "start_from_event",
                              "code": durable_host.system_key("eventgrid_extension")},
                      json=event, headers={"aeg-event-type": "Notification"})
    assert r.status_code == 202
    c = client(durable_host)
    done = wait_until(lambda: (s := run(c.get_status(f"ev-{event_id}"))).output and s)
    assert done.output == 43


def test_a_burst_of_starts_with_repeated_ids_creates_each_instance_once(durable_host):
    c = client(durable_host)
    prefix = "burst-" + uuid.uuid4().hex[:6]
    ids = [f"{prefix}-{i:03d}" for i in range(120)]

    async def burst():
        starts = [c.start_new("approval", i) for i in ids]
        repeats = [c.start_new("approval", i) for i in ids[:20]]  # the same batches again
        return await asyncio.gather(*starts, *repeats, return_exceptions=True)

    results = run(burst())
    started = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert sorted(started) == ids  # one start per id won; the repeats were refused
    assert len(refused) == 20 and all("already exists" in str(e) for e in refused)

    def all_waiting():
        listed = run(c.get_status_by(instance_id_prefix=prefix))
        return len(listed) == 120 and all(
            s.custom_status == "waiting for approval" for s in listed)

    wait_until(all_waiting, timeout=120, interval=0.5)
    pages, token = [], None  # the list API pages with top + x-ms-continuation-token
    while True:
        r = requests.get(f"{durable_host.base_url}/runtime/webhooks/durabletask/instances/",
                         params={"instanceIdPrefix": prefix, "top": 50},
                         headers={"x-ms-continuation-token": token} if token else {})
        pages.append([s["instanceId"] for s in r.json()])
        token = r.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert [len(p) for p in pages] == [50, 50, 20]
    assert sum(pages, []) == ids

    async def approve_all():
        await asyncio.gather(*[c.raise_event(i, "approve", i) for i in ids])

    run(approve_all())

    def all_done():
        listed = run(c.get_status_by(instance_id_prefix=prefix))
        return all(s.runtime_status == OrchestrationRuntimeStatus.Completed
                   for s in listed) and listed

    listed = wait_until(all_done, timeout=120, interval=0.5)
    assert {s.instance_id: json.loads(s.output["approved"]) for s in listed} == {
        i: i for i in ids}


def test_purge_by_time_and_status_removes_finished_instances_and_never_a_running_one(
        durable_host):
    """What the retention timer asks the host (issue 15): purge by creation time and
    runtime status."""
    from datetime import UTC, datetime, timedelta

    c = client(durable_host)
    done = run(c.start_new("chain", None, 1))
    waiting = run(c.start_new("waits_forever", None, None))
    wait_until(lambda: run(c.get_status(done)).runtime_status ==
             OrchestrationRuntimeStatus.Completed)
    wait_until(lambda: run(c.get_status(waiting)).runtime_status ==
             OrchestrationRuntimeStatus.Running)
    finished = [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed,
                OrchestrationRuntimeStatus.Terminated]
    now = datetime.now(UTC)
    before = run(c.purge_instance_history_by(now - timedelta(days=1), now - timedelta(hours=1),
                                             finished))
    assert before.instances_deleted == 0 and run(c.get_status(done))  # too young
    purged = run(c.purge_instance_history_by(now - timedelta(days=1), now + timedelta(minutes=1),
                                             finished))
    assert purged.instances_deleted >= 1
    assert not run(c.get_status(done))
    assert run(c.get_status(waiting)).runtime_status == OrchestrationRuntimeStatus.Running
    run(c.terminate(waiting, "test over"))
