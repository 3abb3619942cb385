"""`GET /api/runs?limit=200` (what `RunRecords.recent` does for it) with a long run history
vs a short one, both measured in this run against the same Azurite, and the same list as
it was done before the index carried kind and status (every record read one after the
other) as the baseline of the speed-up.

The soak that raised issue 15 saw the list go from 0.012 s to 0.4-0.8 s as its history grew
from 5 to 105 runs: the list read one record per run returned. Here both histories hold
more runs than the limit, so the same 200 records come back: what is left to grow with
history is only what the index costs, and the rows show it does not."""
from __future__ import annotations

import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bench.common import CORRECTNESS, CountingState, Row, two_histories

LIMIT = 200


def _sequential(records, limit: int) -> list[dict]:
    """The list as it was: walk the index, read each record in turn."""
    from shared.runs.records import INDEX

    out = []
    for marker in records.state.list(INDEX, results_per_page=100):
        record = records.get(marker.name[len(INDEX) + 12:])
        if record is not None:
            out.append(record)
            if len(out) >= limit:
                break
    return out


def _seed(conn: str, n: int):
    from azure.storage.blob import BlobServiceClient

    from shared.runs.records import _index_name
    from shared.storage import BlobState

    state = BlobState(BlobServiceClient.from_connection_string(conn)
                      .create_container(f"state-{uuid.uuid4().hex[:8]}"))
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def write(i: int) -> None:
        bid = f"{'labelled' if i % 5 == 0 else 'unlabelled'}-{i:020x}"
        created = (base + timedelta(minutes=10 * i)).isoformat()
        rec = {"batchId": bid, "kind": bid.split("-")[0], "status": "succeeded",
               "createdAt": created, "finishedAt": created, "files": [{"name": f"f{i}.csv"}],
               "stages": [{"name": "Score", "durationSeconds": 1.0}], "adfRunIds": [f"r{i}"]}
        state.put(f"runs/{bid}.json", rec)
        state.put(_index_name(created, bid), b"", metadata={"kind": rec["kind"],
                                                           "status": rec["status"]})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(n)))
    return state


def _case(conn: str, n: int, repeats: int) -> dict:
    from shared.runs.records import RunRecords

    counting = CountingState(_seed(conn, n))
    records = RunRecords(counting)
    records.recent(LIMIT)  # warm the connections
    counting.reads = counting.lists = 0
    got = records.recent(LIMIT)
    calls = (counting.lists, counting.reads)

    def timed(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return {"seconds": timed(lambda: records.recent(LIMIT)), "calls": calls,
            "returned": len(got),
            "before": timed(lambda: _sequential(records, LIMIT))}


def run(short: bool = False) -> list[Row]:
    small, big = (205, 260) if short else (250, 5_000)
    repeats = 3 if short else 9
    base, long = two_histories(_case, small, big, repeats)
    ratio = long["seconds"] / base["seconds"]
    speedup = long["seconds"] / long["before"]
    return [
        Row("run list", f"GET /api/runs?limit={LIMIT}, {big:,} vs {small} runs of history",
            f"{long['seconds'] * 1000:.0f} ms vs {base['seconds'] * 1000:.0f} ms "
            f"(median of {repeats})", ratio, "<= 1.5x", ratio <= 1.5),
        Row("run list", f"index lists and record reads, {big:,} vs {small} runs",
            f"{long['calls'][0]}+{long['calls'][1]} vs {base['calls'][0]}+{base['calls'][1]} "
            f"({long['returned']} records returned)", None, "the same whatever the history",
            long["calls"] == base["calls"] and long["returned"] == LIMIT, kind=CORRECTNESS),
        Row("run list", f"limit={LIMIT}, {big:,} runs: records read in parallel vs one by one "
            "(before)", f"{long['seconds'] * 1000:.0f} ms vs {long['before'] * 1000:.0f} ms",
            speedup, "< 1x (informative)"),
    ]


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
