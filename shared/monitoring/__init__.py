"""Watching the system as a whole, outside any one run.

- `freshness`: one cycle of the singleton monitor (data, model, predictions, stuck runs);
- `external_runs`: ADF runs the app did not start, from Log Analytics (`ADFPipelineRun`);
- `health`: the `/api/health/details` report and the anonymous `/api/health` verdict."""
