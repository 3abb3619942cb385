"""Following N concurrent pipeline runs: the run watcher (RUN_TRACKING=watcher, the default)
vs per-run polling (RUN_TRACKING=poll, the baseline), in the same run on one local stack
(the host is restarted with the other setting; Azurite and the emulator stay).

Each case starts N runs of a cheap pipeline (one Wait activity) at once, through the app
(`POST /api/runs` over a partition of N one-file batches), and waits for every run record
to be finished. Measured per case:
- ARM reads the app made while the runs were followed, from the moment every ADF run
  exists to the last final status (the emulator counts requests per operation; reads =
  GETs and the query actions; starting the runs costs the same in both modes and is left
  out), in all and per minute;
- host CPU seconds (user + system of the host stand-in process) over the same time;
- completion latency: the orchestration's final status time (`finishedAt`) minus the ADF
  run's end, p50 and p95.
The reads split in two: following (`queryPipelineRuns` and `pipelineRuns.get`: the
watcher's looks, or the runs' own polls) and activity-run queries (`queryActivityruns`:
each run's stages and outputs, which its end needs whatever follows it). With runs that
last a minute the second part is nearly all runs ending per minute, so the total per
minute grows with N in any design; the following part is what the watcher keeps flat.
Ratios are watcher / poll at the same N. Poll uses the app's defaults (30 s doubling to
300 s) in full mode (N = 10 and 100, or BENCH_TRACKING_SIZES); short mode compresses every
clock so it runs in about a minute."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.common import CORRECTNESS, Row
from bench.glue_stack import services, start
from shared.runs.records import ACTIVE, RunRecords

READ_OPERATIONS = ("read", "querypipelineruns/action", "queryactivityruns/action")
ACTIVITY_READS = ("queryactivityruns/action",)


def _hook(stack, method: str, path: str) -> dict:
    r = requests.request(method, f"{stack.emulator.endpoint}/_emulator/{path}",
                         verify=str(stack.emulator.ca_file), timeout=30)
    r.raise_for_status()
    return r.json()


def _reads(counts: dict, kinds: tuple[str, ...] = READ_OPERATIONS) -> int:
    return sum(n for op, n in counts.items() if op.endswith(kinds))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _case(stack, mode: str, n: int, day: datetime, timeout: float) -> dict:
    """Restart the host with RUN_TRACKING=mode, start n runs, follow them to the end."""
    from devstack.api_client import AppClient

    if stack.host is not None:
        stack.host.stop()
    stack.overrides["RUN_TRACKING"] = mode
    stack.start_host()
    api = AppClient(stack.host.base_url, stack.host.function_key, timeout=230)  # Azure's limit
    svc = services(stack)
    prefix = f"unlabelled/{day:%Y/%m/%d}/"
    for i in range(n):
        svc.landing.upload_blob(f"{prefix}track-{mode}-{i:04}.csv", b"id,p0\n1,2\n",
                                overwrite=True)
    started = api.start({"prefix": prefix})["runs"]
    ids = {r["batchId"] for r in started}
    records = RunRecords(svc.state)
    deadline = time.monotonic() + timeout

    def check(what: str, left: set[str]) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{mode}: {len(left)} of {n} runs not {what} in {timeout:.0f}s")
        time.sleep(1)

    # Read from the state store, not the API (its list stops at 200): first until every ADF
    # run exists (what follows is following), then until no run is in progress.
    waiting = set(ids)
    with ThreadPoolExecutor(8) as pool:
        while waiting:
            check("started", waiting)
            waiting = {b for b, r in zip(waiting, pool.map(records.get, waiting), strict=True)
                       if not (r and r.get("adfRunIds"))}
        _hook(stack, "DELETE", "counts")
        cpu0, t0 = _cpu_seconds(stack.host.proc.pid), time.monotonic()
        while running := ids & {b.name[len(ACTIVE):] for b in svc.state.list(ACTIVE)}:
            check("finished", running)
        elapsed = time.monotonic() - t0
        cpu = _cpu_seconds(stack.host.proc.pid) - cpu0
        counts = _hook(stack, "GET", "counts")["value"]
        done = list(pool.map(records.get, ids))
        ends = pool.map(lambda r: svc.adf.run_status(r["adfRunIds"][-1])["runEnd"], done)
        lags = [(datetime.fromisoformat(r["finishedAt"]) - datetime.fromisoformat(end))
                .total_seconds() for r, end in zip(done, ends, strict=True)]
    reads, activity = _reads(counts), _reads(counts, ACTIVITY_READS)
    return {"reads": reads, "perMinute": reads / (elapsed / 60), "cpu": cpu,
            "following": reads - activity, "followingPerMinute": (reads - activity) / (
                elapsed / 60), "activityPerRun": activity / n,
            "p50": statistics.median(lags), "p95": _pct(lags, 0.95), "elapsed": elapsed,
            "succeeded": sum(r["status"] == "succeeded" for r in done), "runs": len(ids)}


def run(short: bool = False) -> list[Row]:
    sizes = (3,) if short else tuple(
        int(n) for n in os.environ.get("BENCH_TRACKING_SIZES", "10,100").split(","))
    wait = 3 if short else 60
    clocks = ({"WATCH_INTERVAL_SECONDS": "2", "WATCH_TICK_SCHEDULE": "* * * * * *",
               "POLL_INTERVAL_SECONDS": "2",
               "POLL_MAX_INTERVAL_SECONDS": "8"} if short else
              {"WATCH_INTERVAL_SECONDS": "15", "POLL_INTERVAL_SECONDS": "30",
               "POLL_MAX_INTERVAL_SECONDS": "300"})
    watch = float(clocks["WATCH_INTERVAL_SECONDS"])
    rows: list[Row] = []
    results: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        stack = start(Path(tmp), {"MAX_BATCH_FILES": "1", "DEVSTACK_EVENTGRID_WATCH": "",
                                  "FRESHNESS_INTERVAL_SECONDS": "3600", **clocks},
                      wait_seconds=wait)
        try:
            for k, n in enumerate(sizes):
                for j, mode in enumerate(("poll", "watcher")):
                    day = datetime.now(UTC) - timedelta(days=1 + 2 * k + j)
                    results[mode, n] = _case(stack, mode, n, day, timeout=300 + 4 * n)
                    print(f"# {mode}, {n} runs: {results[mode, n]}", file=sys.stderr, flush=True)
        finally:
            stack.stop()
    for n in sizes:
        w, p = results["watcher", n], results["poll", n]
        rows += [
            Row("run tracking", f"{n} concurrent runs ({wait}s Wait): ARM reads per minute, "
                "watcher vs poll", f"{w['perMinute']:.0f} vs {p['perMinute']:.0f} "
                f"({w['reads']} vs {p['reads']} reads)", w["perMinute"] / max(p["perMinute"], 1e-9),
                "< 1x", w["perMinute"] < p["perMinute"]),
            Row("run tracking", f"{n} runs: reads to follow them (run queries and gets) per "
                "minute, watcher vs poll", f"{w['followingPerMinute']:.1f} vs "
                f"{p['followingPerMinute']:.1f} ({w['following']} vs {p['following']})",
                w["followingPerMinute"] / max(p["followingPerMinute"], 1e-9), "< 1x",
                w["followingPerMinute"] < p["followingPerMinute"]),
            Row("run tracking", f"{n} runs: activity-run queries per run, watcher vs poll",
                f"{w['activityPerRun']:.2f} vs {p['activityPerRun']:.2f}",
                w["activityPerRun"] / max(p["activityPerRun"], 1e-9), "informative"),
            Row("run tracking", f"{n} runs: completion latency p50/p95, watcher vs poll",
                f"{w['p50']:.1f}/{w['p95']:.1f}s vs {p['p50']:.1f}/{p['p95']:.1f}s",
                w["p95"] / max(p["p95"], 0.001), f"p95 <= watch interval + 5s ({watch + 5:g}s)",
                w["p95"] <= watch + 5),
            Row("run tracking", f"{n} runs: host CPU seconds, watcher vs poll",
                f"{w['cpu']:.1f} vs {p['cpu']:.1f}", w["cpu"] / max(p["cpu"], 0.001),
                "< 1x (informative)"),
            Row("run tracking", f"{n} runs: every run followed to its end, both modes",
                f"{w['succeeded']}/{w['runs']} and {p['succeeded']}/{p['runs']} succeeded",
                None, "all", w["succeeded"] == w["runs"] == n and p["succeeded"] == p["runs"] == n,
                kind=CORRECTNESS),
        ]
    if len(sizes) > 1:
        lo, hi = results["watcher", sizes[0]], results["watcher", sizes[-1]]
        ratio = hi["perMinute"] / max(lo["perMinute"], 1e-9)
        rows.append(Row("run tracking", f"watcher ARM reads per minute, {sizes[-1]} vs "
                        f"{sizes[0]} runs", f"{hi['perMinute']:.0f} vs {lo['perMinute']:.0f}",
                        ratio, "<= 2x", ratio <= 2))
        following = hi["followingPerMinute"] / max(lo["followingPerMinute"], 1e-9)
        rows.append(Row("run tracking", f"watcher reads to follow runs per minute (activity-run "
                        f"queries left out), {sizes[-1]} vs {sizes[0]} runs",
                        f"{hi['followingPerMinute']:.1f} vs {lo['followingPerMinute']:.1f}",
                        following, "<= 2x", following <= 2))
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
