"""The one way a test waits for something another process does: poll a condition until it
holds, and fail by name when it does not."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str | Callable[[], str] = "the condition",
               timeout: float = 30.0, interval: float = 0.1) -> T:
    """`condition()` once it is truthy. After `timeout` seconds fails naming `what`: a string,
    or a callable asked at that moment, so the message can show the last state seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g}s: {said}")
        time.sleep(interval)
