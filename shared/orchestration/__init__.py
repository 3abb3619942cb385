"""Durable orchestration: the orchestrators (`pipeline_run`, `batch_sealer`,
`freshness_monitor`: plain, deterministic generators over a Durable context; no I/O, no
environment reads, time from the context), the client-side `starters` the entry points
call, the pure `polling` decisions, and `contract`: every Durable name, instance id and the
retry policy. Activities, registered in `functions/orchestration.py`, do the I/O."""
