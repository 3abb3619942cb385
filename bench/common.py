"""What every benchmark returns: rows with a measured value and a ratio against a baseline
measured in the same run (never a bare time)."""
from __future__ import annotations

import time
import tracemalloc
from dataclasses import asdict, dataclass

# What a row's goal is about. A performance goal (a ratio of times, rates or memory) is
# judged by the benchmark table only: a short run on a busy machine is too noisy to fail a
# build on it. A correctness goal (exactly one ADF run per batch, the same number of list
# calls whatever the history) must hold at any size, so the short run in the tests
# asserts it.
PERFORMANCE = "performance"
CORRECTNESS = "correctness"
KINDS = (PERFORMANCE, CORRECTNESS)


@dataclass
class Row:
    bench: str  # e.g. "detection"
    case: str  # e.g. "10,000 older files vs 10"
    value: str  # what was measured, human-readable, e.g. "3 list calls, 12.1 ms/run"
    ratio: float | None  # measured / baseline (or as the goal defines it)
    goal: str  # e.g. "<= 1.5x"
    ok: bool | None = None  # whether the goal was met, when it can be judged
    kind: str = PERFORMANCE  # PERFORMANCE or CORRECTNESS: what `goal` is about

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Row.kind must be one of {KINDS}, not {self.kind!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def best_of(fn, repeat: int = 5) -> float:
    """Best wall time of `repeat` calls, in seconds (the least noisy single number)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_memory(fn) -> tuple[object, int]:
    """Run `fn` under tracemalloc; return its result and the peak traced bytes."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


class CountingState:
    """A `BlobState` that counts blob reads (`read_json`) and list calls, for the rows
    that show a cost stays the same whatever the history."""

    def __init__(self, state):
        self.state, self.reads, self.lists = state, 0, 0

    def read_json(self, name):
        self.reads += 1
        return self.state.read_json(name)

    def list(self, prefix, **kw):
        self.lists += 1
        return self.state.list(prefix, **kw)

    def __getattr__(self, name):
        return getattr(self.state, name)


def two_histories(case, small: int, big: int, repeats: int) -> tuple[dict, dict]:
    """`case(connection_string, n, repeats)` for a short and a long history, one after the
    other on the same fresh Azurite."""
    import tempfile
    from pathlib import Path

    from devstack.azurite import Azurite

    with tempfile.TemporaryDirectory() as tmp, Azurite(Path(tmp)) as az:
        return (case(az.connection_string, small, repeats),
                case(az.connection_string, big, repeats))
