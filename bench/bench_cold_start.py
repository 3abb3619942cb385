"""Cold start: a fresh interpreter importing function_app and indexing its functions, against
one importing azure.functions and azure.durable_functions alone (goal: at most 1.5x)."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

from bench.common import Row
from devstack.azurite import ROOT

BASELINE = "import azure.functions, azure.durable_functions"
APP = "import function_app; function_app.app.get_functions()"


def _time(code: str) -> float:
    timed = ("import time; t0 = time.perf_counter(); " + code +
             "; print(time.perf_counter() - t0)")
    out = subprocess.run([sys.executable, "-c", timed], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return float(out.stdout.strip().splitlines()[-1])


def run(short: bool = False) -> list[Row]:
    repeats = 3 if short else 15
    base, app = [], []
    for _ in range(repeats):  # interleaved, so drift in machine load hits both alike
        base.append(_time(BASELINE))
        app.append(_time(APP))
    b, a = statistics.median(base), statistics.median(app)
    ratio = a / b
    return [Row("cold start", "import function_app + index vs azure.functions + durable",
                f"{a * 1000:.0f} ms vs {b * 1000:.0f} ms (median of {repeats})", ratio,
                "<= 1.5x", ratio <= 1.5)]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
