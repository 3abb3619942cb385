"""`shared.pools`: one long-lived pool per use, made once however many callers ask."""
import threading
from concurrent.futures import ThreadPoolExecutor

from shared.pools import shared_pool


def test_a_pool_is_made_once_per_name_and_its_threads_carry_the_name():
    barrier = threading.Barrier(2, timeout=10)  # both reads at once: two threads, not one
    pools = set()

    def ask(_):
        pools.add(shared_pool("test-pools", 2))
        barrier.wait()
        return threading.current_thread().name

    with ThreadPoolExecutor(2) as callers:
        list(callers.map(ask, range(2)))
    assert len(pools) == 1
    pool = pools.pop()
    names = set(pool.map(lambda _: (barrier.wait(), threading.current_thread().name)[1],
                         range(2)))
    assert len(names) == 2 and all(n.startswith("test-pools_") for n in names)
    assert shared_pool("test-pools", 5) is pool and shared_pool("test-pools-2", 1) is not pool
