"""The dispatcher: hands committed events to every consumer, each event once.

One dispatch is one write transaction: take the dispatcher's lock row (on PostgreSQL with ``FOR UPDATE
SKIP LOCKED``: a node whose neighbour is dispatching skips this round), read the oldest undispatched
events, let each consumer write what it makes of them (webhook deliveries and their job rows), and
mark the events dispatched. Either all of that commits or none of it does: a dispatcher killed half
way leaves the events undispatched and the next one (on any node) does the whole batch again, and no
delivery exists twice (deliveries are unique per event, consumer and target). Job messages are sent
after the commit; a message lost to a kill is sent again by the job recovery (``recoverable``).

Consumers (``EventConsumer``) only write rows: anything slow (an HTTP delivery, a replication) is a
job they create, so the transaction stays short. Replication and synchronisation plug in as further
consumers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from sqlalchemy.engine import Connection

from moorage.domain.events import Event
from moorage.metadata.database import Database
from moorage.metadata.queries import events as q

log = logging.getLogger(__name__)


class EventConsumer(Protocol):
    """Something that reacts to events inside the dispatcher's transaction."""

    name: str

    def consume(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """Write what ``events`` cause (in ``conn``'s transaction); the ids of the jobs to send once it
        commits."""
        ...


class EventDispatcher:
    """Hands events to consumers in batches (``dispatch_once``; a worker calls it in a loop)."""

    def __init__(
        self, db: Database, consumers: Sequence[EventConsumer], *, send: Callable[[str], None], batch: int = 500
    ) -> None:
        self.db = db
        self.consumers = tuple(consumers)
        self.send = send
        self.batch = batch

    def dispatch_once(self) -> int:
        """Dispatch one batch; how many events it handed over (0: none waiting, or another node's
        dispatcher is at work)."""
        if not self.db.run_read(q.has_pending):
            return 0
        try:
            jobs, count = self.db.run_write(self._dispatch)
        except Exception:
            log.exception("dispatching a batch of events failed; dispatching them one by one")
            jobs, count = self._one_by_one()
        for job_id in jobs:
            self.send(job_id)
        return count

    def _dispatch(self, conn: Connection, only: int | None = None) -> tuple[list[str], int]:
        if not q.lock_dispatcher(conn):
            return [], 0
        events = q.pending(conn, limit=self.batch) if only is None else [e for e in [q.get(conn, only)] if e]
        jobs: list[str] = []
        for consumer in self.consumers:
            jobs += consumer.consume(conn, events)
        q.mark_dispatched(conn, [e.id for e in events])
        return jobs, len(events)

    def _one_by_one(self) -> tuple[list[str], int]:
        """After a failed batch: each event in its own transaction, so one event a consumer cannot
        handle is logged and passed over instead of holding up every event behind it."""
        pending = self.db.run_read(lambda conn: [e.id for e in q.pending(conn, limit=self.batch)])
        jobs: list[str] = []
        for event_id in pending:
            try:
                made, _count = self.db.run_write(partial(self._dispatch, only=event_id))
                jobs += made
            except Exception:
                log.exception("event %d could not be dispatched; it is passed over", event_id)
                self.db.run_write(partial(q.mark_dispatched, ids=[event_id]))
        return jobs, len(pending)
