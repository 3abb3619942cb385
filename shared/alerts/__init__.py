"""Alerts: the model, the pure dedup decision, state in blob storage, delivery to sinks
(at least once, retried each monitor cycle: `outbox`), and the intake of Azure Monitor
alerts (`intake`).

Typical use (inside an activity, with the invocation's services):
    notes = process_findings(services, findings, now, links={"run": url})
    deliver(services, notes)            # what fails is retried by retry_deliveries
"""
from shared.alerts.decide import decide, notification_for
from shared.alerts.manager import list_alerts, process_findings
from shared.alerts.model import Alert
from shared.alerts.outbox import deliver, retry_deliveries, sink_health
from shared.alerts.store import AlertStore

__all__ = ["Alert", "AlertStore", "decide", "deliver", "list_alerts", "notification_for",
           "process_findings", "retry_deliveries", "sink_health"]
