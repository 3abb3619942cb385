"""Issue 12 end to end: an alert whose sink is down is retried by the freshness monitor's
cycles and reaches the sink exactly once when it is back, signed, and the API and health
say so throughout. (The rule action whose first start fails is tested through the real
handler with a refusing Durable client in tests/integration/alerts/test_intake_action.py:
the local stack's Durable API cannot honestly refuse one start and accept the next.)"""
from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import module_stack
from tests.integration.alerts.samples import METRIC_FIRED
from tests.polling import wait_until

pytestmark = pytest.mark.slow

# Quick monitor cycles; two tries for the first delivery, then one per cycle.
stack = module_stack("alert-delivery", {"FRESHNESS_INTERVAL_SECONDS": "1",
                                        "ALERT_DELIVERY_ATTEMPTS": "2"})


def monitor_cycle(stack) -> int:
    """The freshness monitor's last finished cycle (-1 before it has started)."""
    monitors = stack.durable_instances("freshness-monitor")
    if not monitors:
        return -1
    return int((monitors[0].get("customStatus") or {}).get("cycle") or 0)


def alert_delivery(stack, alert_id: str) -> dict:
    alerts = stack.api.request("GET", "alerts").json()["alerts"]
    return next(a["delivery"] for a in alerts if a["id"] == alert_id)


def test_a_sink_down_for_three_monitor_cycles_gets_the_alert_once_when_it_is_back(stack):
    receiver = stack.stack.receiver
    wait_until(lambda: monitor_cycle(stack) >= 1, "the freshness monitor runs", timeout=60)
    receiver.fail_next = 10**6  # the sink is down
    failed_before = receiver.failures_served
    posted = stack.api.request("POST", "alerts", data=json.dumps(METRIC_FIRED))
    assert posted.status_code == 202, posted.text
    alert_id = posted.json()["alertId"]
    notification = f"{alert_id}-1"

    # the intake's own delivery (2 tries), then three monitor cycles that each try once
    wait_until(lambda: receiver.failures_served >= failed_before + 2 + 3,
               "three retry cycles failed", timeout=60)
    assert alert_delivery(stack, alert_id) == {"webhook-1": "retrying"}
    health = stack.api.request("GET", "health/details")
    assert health.status_code == 503
    sink = health.json()["checks"]["alertSinks"]["sinks"]["webhook-1"]
    assert not sink["ok"] and sink["undelivered"]["retrying"] == 1
    assert sink["undelivered"]["notifications"][0]["alertId"] == alert_id
    assert notification not in receiver.notification_ids()

    receiver.fail_next = 0  # the sink is back
    wait_until(lambda: notification in receiver.notification_ids(), "the alert reaches the sink",
               timeout=60)
    cycle = monitor_cycle(stack)
    wait_until(lambda: monitor_cycle(stack) >= cycle + 2, "two more monitor cycles", timeout=60)
    assert receiver.notification_ids().count(notification) == 1
    (got,) = [a for a in receiver.alerts("azure_monitor", "Fired")
              if a["body"]["data"]["essentials"]["alertId"] == alert_id]
    assert got["signatureValid"] is True
    assert got["headers"]["X-Glue-Signature"].startswith("t=")
    assert alert_delivery(stack, alert_id) == {"webhook-1": "delivered"}
    health = stack.api.request("GET", "health/details")
    assert health.status_code == 200, health.text
    assert health.json()["checks"]["alertSinks"]["sinks"]["webhook-1"]["delivered"] >= 1
