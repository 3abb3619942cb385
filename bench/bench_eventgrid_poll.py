"""What one poll of the Event Grid stand-in costs to find a new blob, with a long history of
landed files vs a short one, both measured in this run against the same Azurite, and the
way it found them before (a listing of the whole watched container every poll) as the
baseline.

A poll now reads the writes journal Azurite appends to from where the last poll stopped,
and reads the new blob's properties (what `BlobWatcher.poll` does before posting); the
listing grew with every file ever landed, about 7,200 a day at the soak's pace."""
from __future__ import annotations

import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.common import CORRECTNESS, Row


def _case(az, landed: int, repeats: int) -> dict:
    from azure.storage.blob import BlobServiceClient

    from devstack.host.watcher import journal_size, read_writes

    service = BlobServiceClient.from_connection_string(az.connection_string)
    container = service.create_container(f"landing-{uuid.uuid4().hex[:8]}")
    start = journal_size(az.journal)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: container.upload_blob(f"old/{i:06}.csv", b"id\n"),
                      range(landed)))
    assert len(read_writes(az.journal, start, 1 << 30)[0]) == landed  # a line per upload
    journal, listing, found = [], [], []
    for i in range(repeats):
        offset = journal_size(az.journal)  # where the last poll stopped
        # (Azurite writes a blob's line before its answer goes out: it is there on return.)
        name = f"new/{i:03}.csv"
        container.upload_blob(name, b"id\n")
        t0 = time.perf_counter()
        writes, _ = read_writes(az.journal, offset)
        new = [w for w in writes if w.container == container.container_name]
        for w in new:
            container.get_blob_client(w.blob).get_blob_properties()
        journal.append(time.perf_counter() - t0)
        found.append([w.blob for w in new] == [name])
        t0 = time.perf_counter()
        listed = list(container.list_blobs(results_per_page=5000))  # the poll before
        listing.append(time.perf_counter() - t0)
        found[-1] = found[-1] and len(listed) == landed + i + 1
    return {"journal": statistics.median(journal), "listing": statistics.median(listing),
            "found": sum(found)}


def run(short: bool = False) -> list[Row]:
    from pathlib import Path
    from tempfile import TemporaryDirectory

    from devstack.azurite import Azurite

    small, big = (20, 200) if short else (100, 10_000)
    repeats = 3 if short else 15
    with TemporaryDirectory() as tmp, Azurite(Path(tmp)) as az:
        base, long = _case(az, small, repeats), _case(az, big, repeats)
    flat = long["journal"] / base["journal"]
    vs = long["journal"] / long["listing"]
    return [
        Row("eventgrid poll", f"finding a new blob, {big:,} vs {small} files landed "
            "(writes journal)", f"{long['journal'] * 1000:.1f} ms vs "
            f"{base['journal'] * 1000:.1f} ms (median of {repeats})", flat, "<= 1.5x",
            flat <= 1.5),
        Row("eventgrid poll", f"{big:,} files landed: writes journal vs listing the container "
            "(before)", f"{long['journal'] * 1000:.1f} ms vs {long['listing'] * 1000:.0f} ms",
            vs, "< 1x", vs < 1),
        Row("eventgrid poll", "polls that found exactly the blob written since the last",
            f"{base['found'] + long['found']} of {2 * repeats}", None, "all",
            base["found"] + long["found"] == 2 * repeats, kind=CORRECTNESS),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
