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
With more than one size, the smallest and the largest are run once more, watcher only, as
runs of IN_FLIGHT_WAIT seconds, and the reads are counted only while every run is in
progress and none starts or ends: what following runs costs apart from their news.
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
from bench.glue_stack import deploy_wait, services, start
from shared.runs.records import ACTIVE, RunRecords
from shared.runs.watch import OVERLAP_SECONDS

READ_OPERATIONS = ("read", "querypipelineruns/action", "queryactivityruns/action")
ACTIVITY_READS = ("queryactivityruns/action",)
IN_FLIGHT_WAIT = float(os.environ.get("BENCH_IN_FLIGHT_WAIT", "300"))  # seconds


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


def _start_runs(stack, mode: str, n: int, day: datetime, timeout: float):
    """Restart the host with RUN_TRACKING=mode and start n runs; returns once every ADF run
    exists: (services, batch ids, `check(what, left)` that sleeps a second or raises past
    the deadline, the monotonic time just before the runs were asked for)."""
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
    asked = time.monotonic()
    ids = {r["batchId"] for r in api.start({"prefix": prefix})["runs"]}
    records = RunRecords(svc.state)
    deadline = time.monotonic() + timeout

    def check(what: str, left: set[str]) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{mode}: {len(left)} of {n} runs not {what} in {timeout:.0f}s")
        time.sleep(1)

    # Read from the state store, not the API (its list stops at 200).
    waiting = set(ids)
    with ThreadPoolExecutor(8) as pool:
        while waiting:
            check("started", waiting)
            waiting = {b for b, r in zip(waiting, pool.map(records.get, waiting), strict=True)
                       if not (r and r.get("adfRunIds"))}
    return svc, ids, check, asked


def _wait_finished(svc, ids: set[str], check) -> None:
    while running := ids & {b.name[len(ACTIVE):] for b in svc.state.list(ACTIVE)}:
        check("finished", running)


def _case(stack, mode: str, n: int, day: datetime, timeout: float) -> dict:
    """n runs followed with RUN_TRACKING=mode from the moment every ADF run exists (what
    follows is following) until no run is in progress."""
    svc, ids, check, _ = _start_runs(stack, mode, n, day, timeout)
    _hook(stack, "DELETE", "counts")
    cpu0, t0 = _cpu_seconds(stack.host.proc.pid), time.monotonic()
    _wait_finished(svc, ids, check)
    elapsed = time.monotonic() - t0
    cpu = _cpu_seconds(stack.host.proc.pid) - cpu0
    counts = _hook(stack, "GET", "counts")["value"]
    records = RunRecords(svc.state)
    with ThreadPoolExecutor(8) as pool:
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


def _in_flight(stack, n: int, day: datetime, wait: float, interval: float) -> dict:
    """The watcher's reads per minute while n runs are in progress and none starts or
    ends: from one overlap and two looks after the last run was created (no look's window
    holds a start any more) to shortly before the first run can end (`wait` after the
    first was asked for)."""
    safety_net = services(stack).settings.run_safety_net_seconds
    if wait >= safety_net:  # the runs' own polls would be counted too
        raise RuntimeError(f"the wait ({wait:.0f}s) must be shorter than "
                           f"RUN_SAFETY_NET_SECONDS ({safety_net:g}s)")
    svc, ids, check, asked = _start_runs(stack, "watcher", n, day,
                                         timeout=wait + 300 + 4 * n)
    settled = time.monotonic() + OVERLAP_SECONDS + 2 * interval
    last = asked + wait - 10
    if last - settled < 60:
        raise RuntimeError(f"{n} runs took too long to start for a minute in flight "
                           f"before the first ends; raise the wait ({wait:.0f}s)")
    time.sleep(settled - time.monotonic())
    _hook(stack, "DELETE", "counts")
    time.sleep(last - time.monotonic())
    counts = _hook(stack, "GET", "counts")["value"]
    minutes = (last - settled) / 60
    _wait_finished(svc, ids, check)
    records = RunRecords(svc.state)
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(records.get, ids))
    return {"reads": _reads(counts), "perMinute": _reads(counts) / minutes,
            "activity": _reads(counts, ACTIVITY_READS), "minutes": minutes,
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
            if len(sizes) > 1:  # in flight: the smallest and largest size, longer runs
                deploy_wait(stack, IN_FLIGHT_WAIT)
                for k, n in enumerate((sizes[0], sizes[-1])):
                    day = datetime.now(UTC) - timedelta(days=100 + k)
                    results["in flight", n] = _in_flight(stack, n, day, IN_FLIGHT_WAIT, watch)
                    print(f"# in flight, {n} runs: {results['in flight', n]}", file=sys.stderr,
                          flush=True)
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
        lo, hi = results["in flight", sizes[0]], results["in flight", sizes[-1]]
        ratio = hi["perMinute"] / max(lo["perMinute"], 1e-9)
        rows += [
            Row("run tracking", f"watcher ARM reads per minute while {sizes[-1]} vs {sizes[0]} "
                f"runs are in flight ({IN_FLIGHT_WAIT:g}s Wait; none starting or ending)",
                f"{hi['perMinute']:.1f} vs {lo['perMinute']:.1f} ({hi['reads']} vs "
                f"{lo['reads']} reads in {hi['minutes']:.1f} and {lo['minutes']:.1f} min; "
                f"{hi['activity']} vs {lo['activity']} activity-run queries)", ratio,
                "<= 2x", ratio <= 2),
            Row("run tracking", f"in flight: every run followed to its end, {sizes[0]} and "
                f"{sizes[-1]} runs", f"{lo['succeeded']}/{lo['runs']} and "
                f"{hi['succeeded']}/{hi['runs']} succeeded", None, "all",
                lo["succeeded"] == lo["runs"] == sizes[0]
                and hi["succeeded"] == hi["runs"] == sizes[-1], kind=CORRECTNESS),
        ]
    return rows


if __name__ == "__main__":
    from bench.__main__ import print_table

    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
