"""Reporting: what a finished run leaves for people and BI tools, besides its record.

- `summary`: the bounded run summary the dashboard plots from (`dashboard/summary.json` in
  STATE_CONTAINER), upserted per batch;
- `tables`: append-safe CSV tables in ML_CONTAINER (`reporting/runs/`, `reporting/checks/`),
  one file per run written once;
- `measures`: a finding's value, bounds, p-value and level, read from what it carries.

`record_finished_run(services, record)` is called by `shared.runs.activities.finish_run`
after the record is written; it is idempotent (an activity may run again).
"""
from __future__ import annotations


def record_finished_run(services, record: dict) -> None:
    """Fold the finished run into the summary and write its reporting rows once."""
    from shared.reporting.summary import update_summary
    from shared.reporting.tables import write_tables

    update_summary(services.state, record)
    write_tables(services.ml, record)
