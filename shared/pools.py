"""Long-lived thread pools for the reads the app does in parallel (records listed by
`recent`, a watcher look's run reads), one per use, made on first use and kept.

A pool per call started and stopped a thread for every read batch: about 50 threads a
minute in the soak, each with its own stack and glibc arena, for work that a few long-lived
threads do as well."""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TypeVar

T, R = TypeVar("T"), TypeVar("R")
_pools: dict[str, tuple[ThreadPoolExecutor, int]] = {}
_lock = threading.Lock()


def shared_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool named `name` (its threads are named after it), made with `workers`
    threads the first time. Do not shut it down; do not wait on it from its own threads."""
    with _lock:
        pool, size = _pools.get(name) or (None, workers)
        if size != workers:
            raise ValueError(f"pool {name!r} has {size} workers; asked for {workers}")
        if pool is None:
            pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
            _pools[name] = pool, workers
        return pool


def map_in_turn(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T],
                at_once: int) -> Iterator[R]:
    """`pool.map(fn, items)`, results in order, with at most `at_once` of this call's items
    in the pool: callers sharing a pool take turns, and one with 500 reads does not queue
    them all ahead of another's 8. What is not started when the caller stops is cancelled."""
    rest = iter(items)
    pending = deque(pool.submit(fn, item) for item in islice(rest, at_once))
    try:
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(fn, item) for item in islice(rest, 1))
            yield result
    finally:
        for future in pending:
            future.cancel()
