"""Latency from a blob landing in Azurite to its ADF run being created, through the event
path (blob watcher -> Event Grid trigger -> batch sealer -> pipeline_run -> createRun).

The ratio is the median latency over the delay the configuration itself imposes (the
sealer's batching window plus the watcher's poll interval): how much the glue adds."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row
from bench.glue_stack import services, start, upload

WINDOW, WATCH_POLL = 1.0, 0.5


def _created_at(stack, name: str, timeout: float = 60.0) -> datetime:
    from shared.runs.records import RunRecords

    svc = services(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in RunRecords(svc.state).recent(5):
            if name in {f["name"] for f in r.get("files", [])} and r.get("adfRunIds"):
                run = svc.adf.run_status(r["adfRunIds"][0])
                return datetime.fromisoformat(run["runStart"].replace("Z", "+00:00"))
        time.sleep(0.05)
    raise TimeoutError(f"no ADF run for {name} within {timeout}s")


def run(short: bool = False) -> list[Row]:
    samples = 3 if short else 25
    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        stack = start(Path(tmp), {"EVENT_BATCH_WINDOW_SECONDS": str(WINDOW),
                                  "DEVSTACK_EVENTGRID_POLL_SECONDS": str(WATCH_POLL)})
        try:
            day = f"{datetime.now(UTC):%Y/%m/%d}"
            for i in range(samples):
                name = f"unlabelled/{day}/latency-{i:03}.csv"
                landed = datetime.now(UTC)
                upload(stack, name)
                latencies.append((_created_at(stack, name) - landed).total_seconds())
                time.sleep(WINDOW)  # next file in a new window: one batch per file
        finally:
            stack.stop()
    latencies.sort()
    median = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    floor = WINDOW + WATCH_POLL
    return [Row("event latency", f"blob landed -> ADF run created, {samples} batches "
                f"(window {WINDOW:g}s, watcher poll {WATCH_POLL:g}s)",
                f"median {median:.2f}s, p95 {p95:.2f}s", median / floor,
                "median <= 1.5x (window + poll)", median / floor <= 1.5)]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
