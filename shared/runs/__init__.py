"""One run per batch: its record, the activities that do a run's I/O (record, start or
rerun ADF, status, cancel, finish) and the evaluation after it ends (checks + alerts).

- `records`: `RunRecords`, one JSON record per batch with newest-first, active and
  finished (per feed and kind, the checks' history) indexes;
- `activities`: the idempotent I/O behind the `pipeline_run` orchestrator;
- `evaluation`: judge a finished run against its history and raise or resolve alerts."""
