"""The evaluation step after every run: record what the run produced. The checks and alerts
(shared.checks, shared.alerts) plug in here."""
from __future__ import annotations


def evaluate_finished_run(record: dict) -> dict:
    """Fields to merge into the run record: check results and alerts raised or resolved."""
    return {"checks": [], "alerts": []}
