"""POST /api/alerts through its real handler, with storage in Azurite and a stand-in Durable
client that refuses a start: the alert's action runs on Azure Monitor's retry.

A stand-in client, not the local stack: the stack's Durable API has no honest way to refuse
one start and accept the next, and what is tested is the handler's answer and its retry."""
import asyncio
import json
from types import SimpleNamespace

import azure.functions as func
import pytest

from shared.alerts import list_alerts
from shared.runs.records import RunRecords
from shared.services import get_services
from tests.app_index import app_functions
from tests.integration.alerts.samples import LOG_FIRED

SECRET = "intake-secret"
LABELLED = "labelled-" + "ab" * 10


class DurableClient:
    """What `start_action_run` uses of a DurableOrchestrationClient. The first `refuse`
    starts fail the way the real client does when the Durable HTTP API answers an error."""

    def __init__(self, refuse: int):
        self.refuse = refuse
        self.instances: dict[str, str] = {}
        self.starts: list[str] = []

    async def get_status(self, instance_id):
        running = SimpleNamespace(value="Running") if instance_id in self.instances else None
        return SimpleNamespace(runtime_status=running)

    async def start_new(self, name, instance_id=None, client_input=None):
        self.starts.append(instance_id)
        if self.refuse:
            self.refuse -= 1
            raise Exception("Unexpected status code 500: the task hub is unavailable")
        self.instances[instance_id] = name
        return instance_id


@pytest.fixture
def handler(app_env, settings_env, receiver):
    settings_env.setenv("ALERT_WEBHOOK_URLS", receiver.url + "/hook")
    settings_env.setenv("ALERT_INTAKE_SECRET", SECRET)
    settings_env.setenv("ALERT_RULE_ACTIONS", "drift-rule=retrain")
    RunRecords(get_services().state).update(LABELLED, {
        "kind": "labelled", "mode": "train-and-score", "status": "succeeded",
        "manifestPath": f"{app_env['STATE_CONTAINER']}/manifests/{LABELLED}.json", "files": []})
    (fn,) = [f.get_user_function() for f in app_functions()
             if f.get_function_name() == "receive_alert"]
    # Under the binding's middleware (which builds a real client from the host's JSON) is
    # the handler as the app wrote it, error mapping included.
    return fn.__wrapped__


def post(handler, client, payload) -> tuple[int, dict]:
    body = json.dumps(payload).encode()
    req = func.HttpRequest("POST", "http://localhost/api/alerts", body=body,
                           headers={"X-Alert-Secret": SECRET,
                                    "Content-Length": str(len(body))})
    resp = asyncio.run(handler(req, client))
    return resp.status_code, json.loads(resp.get_body())


def fired_again_later(payload: dict) -> dict:
    """The next evaluation of a stateless log alert: a new firing, not a redelivery."""
    later = json.loads(json.dumps(payload))
    later["data"]["essentials"]["firedDateTime"] = "2026-11-21T12:13:03.0000000Z"
    return later


def test_an_action_whose_start_failed_starts_when_the_alert_is_sent_again(handler, receiver):
    client = DurableClient(refuse=1)
    status, body = post(handler, client, LOG_FIRED)
    assert status == 503, body  # Azure Monitor retries 5xx
    assert set(body) == {"error", "detail"} and body["error"] == "action not started"
    assert "retrain" in body["detail"] and "Traceback" not in json.dumps(body)
    assert "intake-secret" not in json.dumps(body)
    assert client.instances == {}
    (alert,) = list_alerts(get_services())
    assert alert["count"] == 1 and alert["delivery"] == {"webhook-1": "delivered"}

    status, body = post(handler, client, LOG_FIRED)  # Azure Monitor's retry, same payload
    assert status == 202, body
    assert body["action"] == "retrain" and body["redelivered"] is True
    (run,) = body["runs"]
    assert run["started"] and run["mode"] == "train-and-score"
    assert run["batchId"].startswith(f"{LABELLED}-retrain-")
    assert list(client.instances) == [run["batchId"]]
    (alert,) = list_alerts(get_services())
    assert alert["count"] == 1  # recorded once: the retry was not counted as a repeat
    assert len(receiver.to("/hook")) == 1  # and nothing was sent again

    # the next firing of the still-open alert is counted; its action has been started
    status, body = post(handler, client, fired_again_later(LOG_FIRED))
    assert status == 202 and body["action"] == "none" and "runs" not in body
    assert body["count"] == 2 and len(client.starts) == 2


def test_an_open_alert_whose_action_never_started_gets_it_on_its_next_firing(handler):
    client = DurableClient(refuse=1)
    assert post(handler, client, LOG_FIRED)[0] == 503  # and Azure Monitor gave up retrying
    status, body = post(handler, client, fired_again_later(LOG_FIRED))
    assert status == 202 and body["count"] == 2 and "redelivered" not in body
    assert body["action"] == "retrain" and body["runs"][0]["started"]
    # the same alert id, so the same run: a second start could not start a second retrain
    assert len(set(client.starts)) == 1 and len(client.instances) == 1


def test_an_action_that_started_is_not_asked_for_again_on_a_redelivery(handler):
    client = DurableClient(refuse=0)
    status, body = post(handler, client, LOG_FIRED)
    assert status == 202 and body["runs"][0]["started"]
    status, body = post(handler, client, LOG_FIRED)
    assert status == 202 and body["action"] == "none" and body["count"] == 2
    assert len(client.starts) == 1
