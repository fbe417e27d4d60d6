"""Pull counting without a database write per pull.

Each manifest GET bumps an in-memory counter; a background task folds the counts into the
repositories' download counters (pulls, and bytes at each pulled image's full size) and the
manifests' last-pulled times every few seconds, in one transaction. A crash loses at most one
interval of counts, which is the price of not serialising every pull behind SQLite's write lock.
The pull events (and other events with no change of their own: successful logins) are kept in an
``EventBuffer`` and written in the same transaction as the counters.

Every node keeps its own counts and adds them to the shared rows (``count = count + n``), so nodes
never overwrite each other's; a last-pulled time only moves forward, whatever order nodes flush in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.events import NewEvent
from moorage.metadata.database import Database, now_ms
from moorage.metadata.tables import manifests, repositories
from moorage.services.events.recorder import EventBuffer

log = logging.getLogger(__name__)


class PullRecorder:
    """Counts pulls per repository and manifest until the next flush."""

    def __init__(
        self, db: Database, *, interval: float = 5.0, events: EventBuffer | None = None, pull_events: bool = True
    ) -> None:
        self.db = db
        self.interval = interval
        self.events = events
        """Where buffered events wait for the next flush (None: none are recorded)."""
        self.pull_events = pull_events
        """Whether pulls are recorded as events (``MOORAGE_EVENTS__RECORD_PULLS``)."""
        self._repositories: Counter[int] = Counter()
        self._manifests: dict[int, int] = {}
        self._manifest_pulls: Counter[int] = Counter()
        self._task: asyncio.Task[None] | None = None

    def record(self, repository_id: int, manifest_id: int, event: NewEvent | None = None) -> None:
        """Count one pull, and keep its event for the next flush (no I/O)."""
        self._repositories[repository_id] += 1
        self._manifests[manifest_id] = now_ms()
        self._manifest_pulls[manifest_id] += 1
        if event is not None and self.pull_events:
            self.note(event)

    def note(self, event: NewEvent) -> None:
        """Keep an event that has no change of its own (a successful login) for the next flush."""
        if self.events is not None:
            self.events.add(event)

    async def flush(self) -> None:
        """Write the counts and events gathered so far (put back to be retried if the write fails)."""
        taken = self.events.drain() if self.events is not None else []
        if not self._repositories and not self._manifests and not taken:
            return
        counts, pulled, per_manifest = self._repositories, self._manifests, self._manifest_pulls
        self._repositories, self._manifests, self._manifest_pulls = Counter(), {}, Counter()

        def work(conn: Connection) -> None:
            if self.events is not None:
                self.events.write(conn, taken)
            for repository_id, n in sorted(counts.items()):
                conn.execute(
                    update(repositories)
                    .where(repositories.c.id == repository_id)
                    .values(download_count=repositories.c.download_count + n)
                )
            for manifest_id, at in sorted(pulled.items()):
                conn.execute(
                    update(manifests)
                    .where(
                        manifests.c.id == manifest_id,
                        or_(manifests.c.last_pulled_at.is_(None), manifests.c.last_pulled_at < at),
                    )
                    .values(last_pulled_at=at)
                )
            for manifest_id, n in sorted(per_manifest.items()):
                # Bytes served, counted at the image's full size (a manifest deleted meanwhile counts nothing).
                image_size = select(manifests.c.total_size).where(manifests.c.id == manifest_id).scalar_subquery()
                owner = select(manifests.c.repository_id).where(manifests.c.id == manifest_id).scalar_subquery()
                conn.execute(
                    update(repositories)
                    .where(repositories.c.id == owner)
                    .values(download_bytes=repositories.c.download_bytes + func.coalesce(image_size, 0) * n)
                )

        try:
            await self.db.write(work)
        except BaseException:
            if self.events is not None:
                self.events.restore(taken)
            self._repositories.update(counts)
            self._manifest_pulls.update(per_manifest)
            for manifest_id, at in pulled.items():
                self._manifests[manifest_id] = max(at, self._manifests.get(manifest_id, 0))
            raise

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:  # keep counting; the next flush retries with newer counts
                log.exception("flushing pull counters failed")

    def start(self) -> None:
        """Start the periodic flush."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
