"""Orchestrator logic: plain, deterministic generators over a Durable context (no I/O, no
environment reads, time from the context). Activities, registered in `functions/`, do the I/O."""
