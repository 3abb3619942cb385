"""Long-lived thread pools for the reads the app does in parallel (records listed by
`recent`, a watcher look's run reads), one per use, made on first use and kept.

A pool per call started and stopped a thread for every read batch: about 50 threads a
minute in the soak. glibc gives each new thread an arena and keeps what short-lived threads
freed there, so the host's RSS grew with the number of calls, not with what it held."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def shared_pool(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool named `name` (its threads are named after it), made with `workers`
    threads the first time. Do not shut it down; do not wait on it from its own threads."""
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(workers, thread_name_prefix=name)
        return pool
