"""Recording events: ``record`` inserts them with the transaction of the change they describe (the
outbox: committed together, rolled back together); ``EventBuffer`` gathers the events that have no
change of their own to ride with (pulls, successful logins) and writes them in batches.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from moorage.domain.events import NewEvent, current_context
from moorage.metadata.database import now_ms
from moorage.metadata.queries import events as q

log = logging.getLogger(__name__)


def record_events(conn: Connection, *new_events: NewEvent) -> None:
    """Insert events in ``conn``'s transaction, each with its own context or the running request's
    (who acted, from which address)."""
    if new_events:
        q.insert_rows(conn, event_rows(conn, *new_events))


def event_rows(conn: Connection, *new_events: NewEvent) -> list[dict[str, Any]]:
    """The rows ``record_events`` inserts (for a caller that inserts them in a statement of its own)."""
    context = current_context()
    at = now_ms()
    owners: dict[tuple[str, str], str] = {}
    return [q.row_of(conn, event, event.context or context, at, owners) for event in new_events]


def pinned(event: NewEvent) -> NewEvent:
    """``event`` with the running request's context fixed in it (for events written later, in a batch)."""
    return event if event.context is not None else replace(event, context=current_context())


class EventBuffer:
    """Events written in batches rather than one transaction each: a pull or a token request must not
    queue behind SQLite's write lock. Bounded: past ``max_events`` the oldest are dropped and counted."""

    def __init__(self, *, max_events: int = 50_000) -> None:
        self.max_events = max_events
        self._events: list[NewEvent] = []
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, event: NewEvent) -> None:
        """Keep an event (with the running request's context) for the next write."""
        event = pinned(event)
        with self._lock:
            self._events.append(event)
            if len(self._events) > self.max_events:
                overflow = len(self._events) - self.max_events
                del self._events[:overflow]
                self._dropped += overflow

    def drain(self) -> list[NewEvent]:
        """Take every kept event (the caller writes them or gives them back with ``restore``)."""
        with self._lock:
            taken, self._events = self._events, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.warning("the event buffer was full: %d pull or login events were dropped", dropped)
        return taken

    def restore(self, taken: list[NewEvent]) -> None:
        """Put back events whose write failed (before newer ones; still bounded)."""
        with self._lock:
            self._events[:0] = taken
            if len(self._events) > self.max_events:
                overflow = len(self._events) - self.max_events
                del self._events[:overflow]
                self._dropped += overflow

    def write(self, conn: Connection, taken: list[NewEvent]) -> None:
        """Insert drained events in ``conn``'s transaction."""
        record_events(conn, *taken)

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
