"""Detection cost must grow with new files and partitions scanned, not with history.

Lands N older files (10, 1,000, 10,000; in partitions outside the look-back) plus 50 new
ones, then times a sweep that claims the 50 and counts its list requests. Ratio: the largest
history against the smallest (goal: close to 1). Runs its own Azurite.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import CORRECTNESS, Row

NEW_FILES = 50


def _case(conn: str, older: int, repeats: int) -> tuple[float, float]:
    from types import SimpleNamespace

    from azure.storage.blob import BlobServiceClient

    from shared.feeds import default_feeds
    from shared.landing.detection import Detector
    from shared.settings import load_settings
    from shared.storage import BlobState

    list_requests = 0

    def count(request):
        nonlocal list_requests
        if "comp=list" in request.http_request.url:
            list_requests += 1

    blobs = BlobServiceClient.from_connection_string(conn, raw_request_hook=count)
    landing = blobs.create_container(f"landing-{uuid.uuid4().hex[:8]}")
    now = datetime.now(UTC)
    names = [f"labelled/{now - timedelta(days=30 + i % 300):%Y/%m/%d}/old{i:05}.csv"
             for i in range(older)]
    names += [f"labelled/{now:%Y/%m/%d}/new{i:03}.csv" for i in range(NEW_FILES)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: landing.upload_blob(n, b"id,p0\n1,2\n"), names))

    now = datetime.now(UTC)  # after the uploads, so every new file has settled
    times, calls = [], []
    for _ in range(repeats):
        state = blobs.create_container(f"state-{uuid.uuid4().hex[:8]}")  # fresh claims
        s = load_settings({"STORAGE_CONNECTION_STRING": conn, "LANDING_QUIET_SECONDS": "0",
                           "LANDING_CONTAINER": landing.container_name,
                           "STATE_CONTAINER": state.container_name})
        list_requests = 0
        t0 = time.perf_counter()
        # The detector's services, with containers whose list requests are counted.
        services = SimpleNamespace(settings=s, feeds=default_feeds(s), landing=landing,
                                   state=BlobState(state))
        det = Detector(services).sweep(now=now + timedelta(seconds=1))
        times.append(time.perf_counter() - t0)
        calls.append(list_requests)
        assert sum(len(b.files) for b in det.batches) == NEW_FILES
    return statistics.median(times), statistics.median(calls)


def run(short: bool = False) -> list[Row]:
    from devstack.azurite import Azurite

    sizes = [10, 200, 1_000] if short else [10, 1_000, 10_000]
    repeats = 2 if short else 5
    with tempfile.TemporaryDirectory() as tmp, Azurite(Path(tmp)) as az:
        results = {n: _case(az.connection_string, n, repeats) for n in sizes}
    base_t, _ = results[sizes[0]]
    rows = [Row("detection", f"{n:,} older + {NEW_FILES} new files",
                f"{calls:.0f} list calls, {t * 1000:.0f} ms/run", t / base_t, "close to 1x")
            for n, (t, calls) in results.items()]
    big_t, big_calls = results[sizes[-1]]
    base_calls = results[sizes[0]][1]
    rows[-1].ok = big_t / base_t < 2.0
    rows.append(Row("detection", f"list calls, {sizes[-1]:,} vs {sizes[0]} older files",
                    f"{big_calls:.0f} vs {base_calls:.0f} list calls", None,
                    "the same whatever the history", big_calls == base_calls,
                    kind=CORRECTNESS))
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
