"""Soak: the local stack under a steady mix of uploads (both kinds; clean, drifted and
malformed files) for a while, then three answers:
- per process (host stand-in, Data Factory emulator, Azurite), RSS growth per hour after a
  warm-up, as a share of the RSS at the start of the measured part: the least-squares slope
  of the RSS floor (the least RSS of each minute, sampled every 2 s). Between collections a
  garbage-collected process's RSS follows its allocation rate, not what it keeps: under
  this load Azurite's swings between 130 and 350 MB and falls back within seconds of going
  idle, so a slope over the raw samples of a 20-minute window is mostly where the swings
  fell. The floor is what the process holds once it has collected; a leak raises it. The
  raw samples' slope is printed beside it;
- `GET /api/runs` latency at the start of the measured part vs at the end, for as many
  runs as there were at the start (at most 200): the same answer size at both ends, so the
  ratio is the cost of the history that grew in between;
- the file ledger: every uploaded file in exactly one run.

Both pipelines are swapped for the benchmark's one-activity Wait (`glue_stack`), so what
runs for an hour is the glue and the stand-ins, not TensorFlow on two cores. Warm-up: 250
uploads, one every 2 s, until their runs are finished (WARMUP_UPLOADS); then one every
12 s, measured, until 30 minutes have passed since the start (BENCH_SOAK_MINUTES). Short
mode: 3 warm-up uploads, then 15 seconds (it checks the benchmark works; its growth figures
are noise)."""
from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import CORRECTNESS, Row
from bench.glue_stack import services, start

# Warm-up: this many uploads, one every WARMUP_EVERY seconds, before the measured part, so
# that what the app bounds in memory is full when measuring starts (the finished records
# `RunRecords` caches, `_CACHED` = 128, and the dashboard summary's 100 points per mode). A
# warm-up shorter than that measured those filling: a bounded cost, not growth per hour.
WARMUP_UPLOADS, WARMUP_EVERY = 250, 2.0
SAMPLE_EVERY, FLOOR_WINDOW = 2.0, 60.0  # seconds between RSS samples; seconds per floor
MIX = (("labelled", "clean"), ("unlabelled", "clean"), ("unlabelled", "drifted"),
       ("labelled", "malformed"), ("unlabelled", "malformed"))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per second."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def _floors(points: list[tuple[float, float]], window: float) -> list[tuple[float, float]]:
    """(middle of the window, least value in it) for each whole `window` of seconds."""
    if not points:
        return []
    start, buckets = points[0][0], {}
    for t, v in points:
        buckets.setdefault(int((t - start) // window), []).append(v)
    whole = (points[-1][0] - start) // window  # the last, partial window is left out
    return [(start + (i + 0.5) * window, min(vs)) for i, vs in sorted(buckets.items())
            if i < whole]


def growth_per_hour(points: list[tuple[float, float]], window: float) -> tuple[float, float]:
    """RSS growth per hour as a share of the first floor: (of the floors, of the samples)."""
    floors = _floors(points, window)
    if len(floors) < 2:
        return 0.0, 0.0
    base = floors[0][1]
    return _slope(floors) * 3600 / base, _slope(points) * 3600 / base


class _Sampler:
    """Samples each process's RSS every SAMPLE_EVERY seconds in a thread, while in use."""

    def __init__(self, pids: dict[str, int], t0: float):
        self.pids, self.t0 = pids, t0
        self.samples: dict[str, list[tuple[float, float]]] = {p: [] for p in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic() - self.t0
            for name, pid in self.pids.items():
                self.samples[name].append((now, _rss_mb(pid)))
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _list_seconds(api, limit: int, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        api.runs(limit)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(short: bool = False) -> list[Row]:
    from devstack.api_client import AppClient
    from training.generate import upload_batch

    duration = 60 * float(os.environ.get("BENCH_SOAK_MINUTES", "30"))
    every = 2.0 if short else 12.0  # seconds between uploads
    warm_uploads = 3 if short else WARMUP_UPLOADS
    with tempfile.TemporaryDirectory() as tmp:
        stack = start(Path(tmp), {"ADF_TRAIN_PIPELINE": "bench_noop",
                                  "EVENT_BATCH_WINDOW_SECONDS": "2",
                                  "WATCH_INTERVAL_SECONDS": "2",
                                  "WATCH_TICK_SCHEDULE": "* * * * * *"}, wait_seconds=2)
        try:
            api = AppClient(stack.host.base_url, stack.host.function_key, timeout=60)
            svc = services(stack)
            pids = {"host": stack.host.proc.pid, "emulator": stack.emulator.proc.pid,
                    "azurite": stack.azurite.proc.pid}
            uploaded: list[str] = []

            def upload() -> None:
                i = len(uploaded)
                kind, variant = MIX[i % len(MIX)]
                uploaded.append(upload_batch(
                    kind, 120, variant, seed=i, name=f"soak-{i:05}",
                    container=svc.settings.landing_container,
                    connection_string=svc.settings.storage_connection_string))

            t0 = time.monotonic()
            while len(uploaded) < warm_uploads:
                upload()
                time.sleep(WARMUP_EVERY)
            _wait_all(svc, set(uploaded), timeout=120 + len(uploaded))
            warmed = time.monotonic() - t0
            limit = max(1, len(api.runs(200)))
            list_start = _list_seconds(api, limit)
            end = warmed + 15.0 if short else max(duration, warmed + 600.0)
            with _Sampler(pids, t0) as sampler:
                while time.monotonic() - t0 < end:
                    upload()
                    time.sleep(every)
            list_end = _list_seconds(api, limit)
            runs = _wait_all(svc, set(uploaded), timeout=120 + len(uploaded))
        finally:
            stack.stop()
    rows = []
    window = 5.0 if short else FLOOR_WINDOW
    for name, points in sampler.samples.items():
        growth, raw = growth_per_hour(points, window)
        floors = _floors(points, window) or [(0.0, points[0][1])]
        rows.append(Row("soak", f"{name} RSS growth per hour after warm-up, of the "
                        f"{window:g}-s floors ({end / 60:.3g} min, {len(uploaded)} uploads; "
                        f"warm-up: the first {warm_uploads}, {warmed / 60:.2g} min)",
                        f"floor {floors[0][1]:.0f} MB -> {floors[-1][1]:.0f} MB "
                        f"({growth:+.0%} per hour; samples {min(v for _, v in points):.0f}-"
                        f"{max(v for _, v in points):.0f} MB, their slope {raw:+.0%})",
                        growth, "< 10% per hour", growth < 0.10))
    ratio = list_end / list_start
    rows.append(Row("soak", f"GET /api/runs?limit={limit} (the runs at the start), end vs "
                    "start of the measured part",
                    f"{list_end * 1000:.0f} ms vs {list_start * 1000:.0f} ms", ratio,
                    "<= 1.5x", ratio <= 1.5))
    seen: dict[str, int] = {}
    for r in runs:
        for f in r.get("files", []):
            seen[f["name"]] = seen.get(f["name"], 0) + 1
    exact = sorted(seen) == sorted(uploaded) and all(n == 1 for n in seen.values())
    rows.append(Row("soak", "file ledger: every uploaded file in exactly one run",
                    f"{len(uploaded)} uploaded, {len(seen)} in runs, "
                    f"{sum(n > 1 for n in seen.values())} in more than one, "
                    f"{len(runs)} runs", None, "exact", exact, kind=CORRECTNESS))
    return rows


def _wait_all(svc, names: set[str], timeout: float) -> list[dict]:
    """The runs holding `names`, once every one of those files is in a finished run (read
    from the records: more runs than the API's largest page)."""
    from shared.runs.records import RunRecords

    deadline = time.monotonic() + timeout
    while True:
        runs = [r for r in RunRecords(svc.state).recent(len(names) + 50)
                if names & {f["name"] for f in r.get("files", [])}]
        covered = {f["name"] for r in runs for f in r.get("files", [])}
        if names <= covered and all(r.get("finishedAt") for r in runs):
            return runs
        if time.monotonic() > deadline:
            return runs  # the ledger row says what is missing
        time.sleep(2)


if __name__ == "__main__":
    from bench.__main__ import print_table

    print(datetime.now(UTC).isoformat())
    print_table(run(short=bool(os.environ.get("BENCH_SHORT"))))
