"""Pure checks over run records, history and freshness facts (no I/O).

`evaluate_run(run, history, reference, settings)` and `evaluate_freshness(facts, now,
settings)` return findings; see `findings` for their shape, statuses and subjects.
"""
from shared.checks.evaluate import evaluate_run
from shared.checks.freshness import evaluate_freshness

__all__ = ["evaluate_run", "evaluate_freshness"]
