"""ARM-like throttling for the emulator: a token bucket per operation kind (`read`: GETs
and the query actions, which ARM counts against the reads budget here; `write`: every
other call), off until a test or benchmark switches it on.

A request takes one token from its kind's bucket; an empty bucket answers 429 with
`Retry-After` (whole seconds until the next token) and the remaining header at 0. Every
answered request carries `x-ms-ratelimit-remaining-subscription-reads` (or `-writes`)
with the tokens left, as ARM does."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

HEADER = {"read": "x-ms-ratelimit-remaining-subscription-reads",
          "write": "x-ms-ratelimit-remaining-subscription-writes"}
READ_ACTIONS = {"query_runs", "query_activities"}


def kind_of(method: str, handler: str) -> str:
    return "read" if method == "GET" or handler in READ_ACTIONS else "write"


class TokenBucket:
    def __init__(self, capacity: float, refill_per_second: float,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.rate, self.clock = float(capacity), float(refill_per_second), clock
        self.tokens, self.updated = float(capacity), clock()

    def take(self) -> tuple[bool, int, float]:
        """(allowed, tokens left, seconds until the next token when refused)."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, int(self.tokens), 0.0
        wait = (1 - self.tokens) / self.rate if self.rate > 0 else 3600.0
        return False, 0, wait


class Throttle:
    """The buckets in force: {"read": {"capacity", "refillPerSecond"}, "write": {...}};
    a kind without a bucket is never throttled."""

    def __init__(self, config: dict | None = None, clock: Callable[[], float] = time.monotonic):
        self.lock = threading.Lock()
        self.buckets = {kind: TokenBucket(c["capacity"], c["refillPerSecond"], clock)
                        for kind, c in (config or {}).items() if kind in HEADER}
        self.refused = 0

    def check(self, method: str, handler: str) -> tuple[int | None, dict]:
        """(None, headers) to go ahead, or (429, headers) to refuse."""
        kind = kind_of(method, handler)
        bucket = self.buckets.get(kind)
        if bucket is None:
            return None, {}
        with self.lock:
            ok, left, wait = bucket.take()
            if not ok:
                self.refused += 1
        headers = {HEADER[kind]: str(left)}
        if ok:
            return None, headers
        return 429, {**headers, "Retry-After": str(max(1, math.ceil(wait)))}
