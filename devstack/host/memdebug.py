"""Memory debugging for soak investigations, off unless asked for.

`DEVSTACK_HOST_MEMDEBUG=<dir>`: each SIGUSR1 appends one line to `<dir>/stats.tsv` (RSS,
modules loaded, live objects, threads, glibc heap in use / free, traced bytes now and at
their peak since the last line, resident kB
in the brk heap and in anonymous mappings, pymalloc arenas) and writes
`<dir>/types-<n>.txt` (live objects per type, most first).
`DEVSTACK_HOST_TRACEMALLOC=<frames>` as well: tracemalloc runs from before the app is
imported and each SIGUSR1 also writes `<dir>/snapshot-<n>.tracemalloc` (load it with
`tracemalloc.Snapshot.load`, compare two with `compare_to(..., "traceback")`)."""
from __future__ import annotations

import ctypes
import gc
import itertools
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ENV = "DEVSTACK_HOST_MEMDEBUG"
TRACE_ENV = "DEVSTACK_HOST_TRACEMALLOC"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _malloc_stats() -> tuple[int, int, int]:
    """glibc's (bytes in use, free bytes kept in arenas, mmapped bytes); zeros elsewhere."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except (AttributeError, OSError):
        return 0, 0, 0
    fn.restype = _MallInfo2
    m = fn()
    return m.uordblks, m.fordblks, m.hblkhd


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _mapped_rss_kb() -> tuple[int, int]:
    """Resident kB in the brk heap and in anonymous mappings (pymalloc arenas, thread arenas,
    thread stacks, large mallocs): where RSS growth lives."""
    heap = anon = 0
    kind = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and len(parts) >= 5:
            kind = parts[5] if len(parts) > 5 else "anon"
        elif parts[0] == "Rss:":
            if kind == "[heap]":
                heap += int(parts[1])
            elif kind == "anon":
                anon += int(parts[1])
    return heap, anon


def _pymalloc_arenas() -> int:
    """pymalloc's arenas allocated now, from `sys._debugmallocstats` (it writes to fd 2, so
    what other threads write to stderr meanwhile is lost: a debugging hook's price)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as tmp:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        for line in tmp:
            if line.startswith("# arenas allocated current"):
                return int(line.split("=")[1].replace(",", ""))
    return 0


def install() -> None:
    where = os.environ.get(ENV)
    if not where:
        return
    import tracemalloc

    out = Path(where)
    out.mkdir(parents=True, exist_ok=True)
    frames = int(os.environ.get(TRACE_ENV) or 0)
    if frames:
        tracemalloc.start(frames)
    seq = itertools.count(1)
    stats = out / "stats.tsv"
    if not stats.exists():
        stats.write_text("n\ttime\trss_kb\tmodules\tobjects\tblocks\tthreads\tmalloc_used\t"
                         "malloc_free\tmmapped\ttraced\ttraced_peak\theap_kb\tanon_kb\tarenas\n")

    def dump(*_) -> None:
        # First, before this dump allocates anything: the peak is the app's, not the hook's.
        traced, peak = tracemalloc.get_traced_memory() if frames else (0, 0)
        n = next(seq)
        gc.collect()
        objects = gc.get_objects()
        counts = Counter(type(o).__qualname__ for o in objects)
        used, free, mapped = _malloc_stats()
        heap, anon = _mapped_rss_kb()
        with stats.open("a") as f:
            f.write(f"{n}\t{time.time():.0f}\t{_rss_kb()}\t{len(sys.modules)}\t{len(objects)}"
                    f"\t{sys.getallocatedblocks()}\t{threading.active_count()}\t{used}\t{free}"
                    f"\t{mapped}\t{traced}\t{peak}\t{heap}\t{anon}\t{_pymalloc_arenas()}\n")
        del objects
        (out / f"types-{n}.txt").write_text(
            "".join(f"{c}\t{t}\n" for t, c in counts.most_common(300)))
        if frames:
            tracemalloc.take_snapshot().dump(str(out / f"snapshot-{n}.tracemalloc"))
            tracemalloc.reset_peak()  # last, after the snapshot: the next line's peak is the
            # app's high in that interval, so a transient high that grows with history shows

    signal.signal(signal.SIGUSR1, dump)
