"""`shared.pools`: one long-lived pool per use, made once however many callers ask."""
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.pools import map_in_turn, shared_pool


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
    assert shared_pool("test-pools", 2) is pool and shared_pool("test-pools-2", 1) is not pool
    with pytest.raises(ValueError, match="'test-pools' has 2 workers; asked for 5"):
        shared_pool("test-pools", 5)


def test_map_in_turn_keeps_order_and_at_most_its_share_in_the_pool():
    pool = shared_pool("test-turns", 4)
    lock, flight, most = threading.Lock(), [0], [0]
    pair = threading.Barrier(2, timeout=10)  # reads meet in twos: a third in flight shows

    def slow(i):
        with lock:
            flight[0] += 1
            most[0] = max(most[0], flight[0])
        pair.wait()
        with lock:
            flight[0] -= 1
        return i * i

    assert list(map_in_turn(pool, slow, range(20), 2)) == [i * i for i in range(20)]
    assert most[0] == 2  # two at a time, though the pool has four threads


def test_map_in_turn_cancels_what_a_caller_that_stopped_did_not_start():
    pool = shared_pool("test-cancel", 1)
    gate, ran = threading.Event(), []

    def read(i):
        gate.wait(10)
        ran.append(i)
        return i

    results = map_in_turn(pool, read, range(10), 3)
    gate.set()
    assert next(results) == 0
    results.close()  # the caller stops after one: the two queued behind it are cancelled
    pool.submit(lambda: None).result()  # whatever was still running has finished
    assert ran[0] == 0 and len(ran) <= 2 and set(ran) <= {0, 1, 2}
