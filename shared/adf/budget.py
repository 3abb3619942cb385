"""ARM's read budget as the factory's responses report it, and how much to slow down.

ARM answers every call with `x-ms-ratelimit-remaining-subscription-reads` (reads left in
the caller's bucket for this subscription). `ArmBudget` keeps the latest value it saw (the
management client's raw-response hook feeds it); `slowdown_factor` is the pure decision:
1 while at least `low` reads remain, then in proportion to how far below `low` the budget
is, at most `MAX_SLOWDOWN` times. A value older than `STALE_SECONDS` counts as unknown
(ARM refills the bucket), and unknown means full speed. 429s are handled apart from this,
by the client's retries honouring `Retry-After`."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

REMAINING_READS = "x-ms-ratelimit-remaining-subscription-reads"
MAX_SLOWDOWN = 8.0
STALE_SECONDS = 300.0


def slowdown_factor(remaining: int | None, low: int) -> float:
    """How many times longer to wait between looks (1 = full speed)."""
    if remaining is None or remaining >= low:
        return 1.0
    return min(MAX_SLOWDOWN, low / max(1, remaining))


def remaining_reads(headers: Mapping | None) -> int | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == REMAINING_READS:
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


class ArmBudget:
    """The remaining reads last reported, shared by every call of one process's client."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._seen: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def observe(self, headers: Mapping | None) -> None:
        value = remaining_reads(headers)
        if value is not None:
            with self._lock:
                self._seen = (self.clock(), value)

    def on_response(self, pipeline_response) -> None:
        """azure-core `raw_response_hook`: runs for every response, 429s included."""
        self.observe(getattr(pipeline_response.http_response, "headers", None))

    @property
    def remaining(self) -> int | None:
        seen = self._seen
        if seen is None or self.clock() - seen[0] > STALE_SECONDS:
            return None
        return seen[1]

    def slowdown(self, low: int) -> float:
        return slowdown_factor(self.remaining, low)
