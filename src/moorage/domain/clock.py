"""The one clock: integer epoch milliseconds, how every table stores time and every layer compares it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """The current time as integer epoch milliseconds."""
    return int(time.time() * 1000)


def iso_to_ms(text: str) -> int | None:
    """Epoch milliseconds of an ISO 8601 time (``2026-11-24T06:00:00Z``; without a zone, UTC); None
    when it does not parse."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
