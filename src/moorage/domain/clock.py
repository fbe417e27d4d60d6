"""The one clock: integer epoch milliseconds, how every table stores time and every layer compares it."""

from __future__ import annotations

import time


def now_ms() -> int:
    """The current time as integer epoch milliseconds."""
    return int(time.time() * 1000)
