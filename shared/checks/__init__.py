"""Pure checks over run records, history and freshness facts (no I/O).

`evaluate_run(run, history, reference, settings[, profile])` and `evaluate_freshness(facts,
now, settings)` return findings; see `findings` for their shape, statuses and subjects,
`profile` for what a feed tells the checks (task, primary metric, output roles) and
`contract` for what the outputs they read must hold (schemas in `contract/`).
"""
from shared.checks.evaluate import evaluate_run
from shared.checks.freshness import evaluate_freshness

__all__ = ["evaluate_run", "evaluate_freshness"]
