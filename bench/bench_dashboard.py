"""Dashboard overview: gather + render time with a long run history vs a short one, both
measured in this run against the same Azurite, and the page's weight.

Each history is that many finished run records in storage (records and their newest-first
index, one training run to four scoring runs, the newest judged by the real checks) and the
run summary that `finish_run` keeps (folded here with the same pure `fold`, to save the
minutes 10,000 activity calls would take). The overview is timed end to end as the handler
does it (summary, champion, freshness markers, runs in progress, alerts; then the HTML and
its five plots), without the health probes (a fixed cost with the Data Factory behind them).
"""
from __future__ import annotations

import gzip
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

from bench.common import CORRECTNESS, CountingState, Row, two_histories

JUDGED = 300  # the newest runs get findings from the real checks (the summary shows these)


def _history(n: int) -> list[dict]:
    from tests import run_samples

    recs = [run_samples.record(i, mode="train-and-score" if i % 5 == 0 else "score",
                               drifted=i % 97 == 0) for i in range(n)]
    return recs[:-JUDGED] + run_samples.judged(recs[-JUDGED:])


def _case(conn: str, n: int, repeats: int) -> dict:
    from azure.storage.blob import BlobServiceClient

    from shared.dashboard.data import overview_data
    from shared.dashboard.html import Links
    from shared.dashboard.pages import overview_page
    from shared.feeds import default_feeds
    from shared.reporting.summary import SUMMARY, fold, run_point
    from shared.runs.records import _index_name
    from shared.settings import load_settings
    from shared.storage import BlobState

    blobs = BlobServiceClient.from_connection_string(conn)
    suffix = uuid.uuid4().hex[:8]
    state = BlobState(blobs.create_container(f"state-{suffix}"))
    ml = BlobState(blobs.create_container(f"ml-{suffix}"))
    records = _history(n)
    summary = None
    for rec in records:
        summary = fold(summary, run_point(rec)) or summary

    def write(rec):
        state.put(f"runs/{rec['batchId']}.json", rec)
        state.put(_index_name(rec["createdAt"], rec["batchId"]), b"")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, records))
    state.put(SUMMARY, summary)
    ml.put("models/champion.json", {"version": "m-0", "accuracy": 0.9,
                                    "promotedAt": records[0]["finishedAt"]})
    settings = load_settings({"STORAGE_CONNECTION_STRING": conn,
                              "STATE_CONTAINER": state.container.container_name,
                              "ML_CONTAINER": ml.container.container_name})
    counting = CountingState(state)
    services = SimpleNamespace(settings=settings, feeds=default_feeds(settings), state=counting,
                               ml=ml)

    def overview() -> str:
        data = overview_data(services, datetime.now(UTC), health=False)
        return overview_page(data, Links(code="key"))

    overview()  # warm: matplotlib import, first connections
    counting.reads = counting.lists = 0
    page = overview()
    reads = counting.reads + counting.lists
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        overview()
        times.append(time.perf_counter() - t0)
    body = page.encode()
    return {"seconds": statistics.median(times), "reads": reads, "bytes": len(body),
            "gzip": len(gzip.compress(body)), "points": len(summary["runs"])}


def run(short: bool = False) -> list[Row]:
    small, big = (50, 300) if short else (100, 10_000)
    repeats = 2 if short else 9
    base, long = two_histories(_case, small, big, repeats)
    ratio = long["seconds"] / base["seconds"]
    return [
        Row("dashboard", f"overview gather + render, {big:,} vs {small} runs of history",
            f"{long['seconds'] * 1000:.0f} ms vs {base['seconds'] * 1000:.0f} ms "
            f"(median of {repeats}; {long['points']} vs {base['points']} points plotted)",
            ratio, "<= 1.5x", ratio <= 1.5),
        Row("dashboard", f"overview blob reads and lists, {big:,} vs {small} runs",
            f"{long['reads']} vs {base['reads']}", None, "the same whatever the history",
            long["reads"] == base["reads"], kind=CORRECTNESS),
        Row("dashboard", f"overview page weight, {big:,} vs {small} runs",
            f"{long['bytes'] / 1024:.0f} KiB ({long['gzip'] / 1024:.0f} KiB gzipped) vs "
            f"{base['bytes'] / 1024:.0f} KiB ({base['gzip'] / 1024:.0f} KiB gzipped)",
            long["bytes"] / base["bytes"], "bounded (informative)"),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
