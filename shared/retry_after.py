"""How long a service asked us to wait: `Retry-After` (seconds or an HTTP date) or the
`retry-after-ms` / `x-ms-retry-after-ms` headers Azure sends. One parser for the ADF
client and the alert sinks."""
from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC


def retry_after_seconds(headers: Mapping | None, now: float | None = None) -> float | None:
    """Seconds to wait (never negative), or None when the headers ask nothing."""
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in dict(headers).items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if lowered.get(name):
            try:
                return max(0.0, float(lowered[name]) / 1000.0)
            except ValueError:
                pass
    value = str(lowered.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
