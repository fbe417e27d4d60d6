"""The garbage collector: one pass over the metadata and the blob store, while clients push.

A run of the whole registry (``instance_id`` None) goes through, in order:

1. blobs a killed run left marked as being deleted: their deletion is finished;
2. with ``delete_untagged``, the shared registry's untagged manifests no tag reaches
   (``reachability``), older than the grace period, group by group;
3. every blob, in digest order, a page at a time: repository links no manifest of the repository
   uses are removed, then blobs nothing links or references are marked and their bytes deleted,
   once no push has used them for the grace period;
4. expired upload sessions and their bytes, and upload data no session owns;
5. blob files storage holds that no metadata knows (a process killed between storing and linking).

A run of one Enterprise Edition instance does 2 for that instance's manifests and 3 for the blobs
only that instance's repositories link: its figures are its own, and another tenant's blob is
never its business. Memory stays bounded by a page and by the largest repository's manifests: the
database does the marking (``NOT EXISTS``), no mark set is held.

Every deletion is decided twice: once from a page read without locks, and again by the statement
that deletes, which restates the whole condition, inside the fence (``writer_fence`` /
``collector_fence``) that keeps every writer that creates a link, a reference or a tag out while it
runs. A blob's bytes are deleted in a second fenced transaction after its row was marked
``deleting_since`` in a committed first one: a run killed at any point leaves either nothing done
or a marked row with no link and no reference (no client can use it: the manifest PUT, the mount
and the blob HEAD all need a link), which the next run finishes and any writer revives after
putting its own bytes back (``guard.secure_blob``). One storage error is logged and counted; the
blob stays marked and the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

import anyio.from_thread
from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.gc import GcFigures, GcParameters
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import gc as q
from moorage.metadata.queries import uploads as uploads_q
from moorage.services.lifecycle.reachability import garbage_groups
from moorage.settings.sections import GcSettings
from moorage.storage import paths
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

T = TypeVar("T")
FRESH_MARGIN_MS = 60_000
"""Bytes modified less than this before a blob was marked (or half the grace period, if shorter)
are taken for a push's, put back while the row was marked: the row goes, the bytes stay."""
REPOSITORY_PAGE = 100
SQLITE_PAUSE_MS = 100
"""The pause after a deleting batch on SQLite (``GcSettings.pause_ms`` unset): a writer of another
process waiting for SQLite's write lock sleeps up to 100 ms between tries, so a collector that took
the lock back sooner would starve the pushes."""


class Journal(Protocol):
    """Where a run reports: its log, and checkpoints (progress saved, a stop request noticed)."""

    def log(self, level: str, message: str) -> None:
        """One line of the run's log (``info``, ``warning`` or ``error``)."""
        ...

    async def checkpoint(self, figures: GcFigures) -> bool:
        """Save the figures so far and the log; True when the run was asked to stop."""
        ...


class GcStopped(Exception):
    """The run was asked to stop; what it did so far stays done."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of one marked blob's bytes."""

    digest: str
    removed_bytes: int
    error: str = ""
    kept_fresh: bool = False


class GarbageCollector:
    """Runs the passes described in the module docstring."""

    def __init__(self, db: Database, store: BlobStore, settings: GcSettings) -> None:
        self.db = db
        self.store = store
        self.settings = settings

    async def collect(
        self, *, instance_id: str | None, parameters: GcParameters, journal: Journal, figures: GcFigures | None = None
    ) -> GcFigures:
        """One run, adding to ``figures`` (the caller keeps what was done if the run raises:
        ``GcStopped`` at a checkpoint after a stop request, or an error)."""
        run = _Run(self, instance_id, parameters, journal, figures if figures is not None else GcFigures())
        await run.go()
        return run.figures


class _Run:
    """The state of one run."""

    def __init__(
        self,
        collector: GarbageCollector,
        instance_id: str | None,
        parameters: GcParameters,
        journal: Journal,
        figures: GcFigures,
    ) -> None:
        self.db = collector.db
        self.store = collector.store
        self.settings = collector.settings
        self.instance_id = instance_id
        self.parameters = parameters
        self.journal = journal
        self.figures = figures
        self.started = now_ms()
        self.grace_ms = self.settings.grace_seconds * 1000
        self.cutoff = self.started - self.grace_ms
        self.fresh_margin_ms = min(FRESH_MARGIN_MS, self.grace_ms // 2)
        self.doomed_manifests: set[int] = set()
        """Manifests a dry run would have deleted (their references do not count)."""

    @property
    def dry(self) -> bool:
        return self.parameters.dry_run

    async def go(self) -> None:
        scope = "the whole registry" if self.instance_id is None else f"instance {self.instance_id}"
        self.journal.log(
            "info",
            f"collecting {scope}: delete_untagged={self.parameters.delete_untagged}, "
            f"dry_run={self.dry}, workers={self.parameters.workers}, grace period "
            f"{self.settings.grace_seconds} s",
        )
        if self.instance_id is None and not self.dry:
            await self._finish_marked()
        if self.parameters.delete_untagged:
            await self._manifests(self.instance_id or DEFAULT_INSTANCE)
        await self._blobs()
        if self.instance_id is None:
            await self._uploads()
            if self.settings.orphan_scan:
                await self._orphans()
        await self._checkpoint()

    # Plumbing -------------------------------------------------------------------------------------

    async def _checkpoint(self) -> None:
        if await self.journal.checkpoint(self.figures):
            raise GcStopped()

    async def _pause(self) -> None:
        pause = self.settings.pause_ms
        if pause is None:
            pause = SQLITE_PAUSE_MS if self.db.dialect == "sqlite" else 0
        if pause:
            await asyncio.sleep(pause / 1000)

    async def _read(self, work: Callable[[Connection], T]) -> T:
        return await self.db.read(work, heavy=True)

    # 1. Marked blobs a killed run left ----------------------------------------------------------------

    async def _finish_marked(self) -> None:
        after = ""
        while rows := await self._read(partial(q.marked_page, after=after, limit=self.settings.batch_size)):
            after = rows[-1].digest
            await self._erase([row.digest for row in rows])
            await self._checkpoint()

    # 2. Manifests ---------------------------------------------------------------------------------------

    async def _manifests(self, instance_id: str) -> None:
        after = 0
        before = self.figures.manifests
        while repositories := await self._read(
            partial(
                q.repositories_with_untagged,
                after=after,
                limit=REPOSITORY_PAGE,
                instance_id=instance_id,
                created_before=self.cutoff,
            )
        ):
            after = repositories[-1]
            for repository_id in repositories:
                await self._repository_manifests(repository_id)
        self.journal.log(
            "info",
            f"manifests: {self.figures.manifests - before} untagged and unreachable "
            f"{'would be ' if self.dry else ''}deleted",
        )

    async def _repository_manifests(self, repository_id: int) -> None:
        nodes, edges = await self._read(lambda conn: q.repository_graph(conn, repository_id))
        groups = garbage_groups(nodes, edges, keep_after_ms=self.cutoff)
        if not groups:
            return
        digest_of = {node.id: node.digest for node in nodes}
        if self.dry:
            for group in groups:
                self.doomed_manifests.update(group)
                self.figures.manifests += len(group)
                self._log_group("would delete", repository_id, group, digest_of)
            return
        batch: list[list[int]] = []
        for group in groups:
            batch.append(group)
            if sum(len(g) for g in batch) >= self.settings.batch_size:
                await self._delete_groups(repository_id, batch, digest_of)
                batch = []
        if batch:
            await self._delete_groups(repository_id, batch, digest_of)

    async def _delete_groups(self, repository_id: int, groups: list[list[int]], digest_of: dict[int, str]) -> None:
        def work(conn: Connection) -> list[int]:
            q.collector_fence(conn)
            return [q.delete_manifest_group(conn, repository_id, group, created_before=self.cutoff) for group in groups]

        deleted = await self.db.write(work)
        for group, count in zip(groups, deleted, strict=True):
            if count:
                self.figures.manifests += count
                self._log_group("deleted", repository_id, group, digest_of)
            else:
                self._log_group("kept (changed since it was read)", repository_id, group, digest_of)
        await self._checkpoint()
        await self._pause()

    def _log_group(self, what: str, repository_id: int, group: Sequence[int], digest_of: dict[int, str]) -> None:
        shown = ", ".join(digest_of[i] for i in group[:5]) + (f" and {len(group) - 5} more" if len(group) > 5 else "")
        self.journal.log("info", f"manifest(s) of repository {repository_id} {what}: {shown}")

    # 3. Links and blobs ---------------------------------------------------------------------------

    async def _blobs(self) -> None:
        after = ""
        while page := await self._read(
            partial(q.blob_page, after=after, limit=self.settings.batch_size, instance_id=self.instance_id)
        ):
            after = page[-1].digest
            candidates = [row for row in page if row.deleting_since is None and row.touched_at < self.cutoff]
            if candidates:
                await self._blob_page(candidates)
            await self._checkpoint()
        self.journal.log(
            "info",
            f"blobs: {self.figures.blobs} {'would be ' if self.dry else ''}deleted "
            f"({self.figures.bytes} bytes), {self.figures.links} repository links "
            f"{'would be ' if self.dry else ''}removed, {self.figures.errors} storage errors",
        )

    async def _blob_page(self, candidates: list[q.BlobRow]) -> None:
        digests = [row.digest for row in candidates]
        links = await self._read(lambda conn: q.links_of(conn, digests))
        if self.dry:
            references = await self._read(lambda conn: q.references_of(conn, digests))
            used = {
                (digest, repository)
                for digest, manifest, repository in references
                if manifest not in self.doomed_manifests
            }
        else:
            used = await self._read(lambda conn: q.referencing_repositories(conn, digests))
        links_by_blob: dict[str, list[q.LinkRow]] = defaultdict(list)
        for link in links:
            links_by_blob[link.digest].append(link)
        referenced = {digest for digest, _repository in used}
        doomed_links: list[q.LinkRow] = []
        doomed_blobs: list[q.BlobRow] = []
        for row in candidates:
            own = links_by_blob.get(row.digest, [])
            releasable = [
                link
                for link in own
                if (self.instance_id is None or link.instance_id == self.instance_id)
                and (link.digest, link.repository_id) not in used
                and link.created_at < self.cutoff
            ]
            doomed_links.extend(releasable)
            if row.digest not in referenced and len(releasable) == len(own) and (self.instance_id is None or own):
                doomed_blobs.append(row)
        if self.dry:
            self.figures.links += len(doomed_links)
            self.figures.blobs += len(doomed_blobs)
            self.figures.bytes += sum(row.size for row in doomed_blobs)
            for row in doomed_blobs:
                self.journal.log("info", f"blob {row.digest} ({row.size} bytes) would be deleted")
            return
        if not doomed_links and not doomed_blobs:
            return

        def mark(conn: Connection) -> tuple[int, list[str]]:
            q.collector_fence(conn)
            released = q.release_links(
                conn, [(link.repository_id, link.digest) for link in doomed_links], cutoff=self.cutoff
            )
            return released, q.mark_deleting(conn, [row.digest for row in doomed_blobs], cutoff=self.cutoff)

        released, marked = await self.db.write(mark)
        self.figures.links += released
        if marked:
            await self._erase(marked)
        await self._pause()

    async def _erase(self, digests: list[str]) -> None:
        """Delete the bytes and rows of blobs marked as being deleted, in one fenced transaction (the
        storage calls run in it, ``workers`` at a time)."""

        def work(conn: Connection) -> tuple[dict[str, q.BlobRow], list[_Outcome], set[str]]:
            q.collector_fence(conn)
            rows = q.deleting_rows(conn, digests)
            outcomes = self._erase_local(list(rows.values()))
            if outcomes is None:
                outcomes = anyio.from_thread.run(self._erase_bytes, list(rows.values()))
            return rows, outcomes, q.forget_blobs(conn, [o.digest for o in outcomes if not o.error])

        rows, outcomes, gone = await self.db.write(work)
        for outcome in outcomes:
            row = rows[outcome.digest]
            if outcome.error:
                self.figures.errors += 1
                self.journal.log(
                    "error",
                    f"blob {outcome.digest}: storage error ({outcome.error}); it stays "
                    "marked and the next run deletes it",
                )
            elif outcome.digest in gone:
                self.figures.blobs += 1
                self.figures.bytes += outcome.removed_bytes
                if outcome.kept_fresh:
                    note = "deleted; its bytes, stored again by a push meanwhile, stay"
                elif outcome.removed_bytes:
                    note = f"deleted ({row.size} bytes)"
                else:
                    note = "deleted (its bytes were already gone from storage)"
                self.journal.log("info", f"blob {outcome.digest} {note}")

    def _fresh_after(self, row: q.BlobRow) -> float:
        """Bytes modified after this (epoch seconds) were put back by a push while the row was marked."""
        assert row.deleting_since is not None
        return (row.deleting_since - self.fresh_margin_ms) / 1000

    def _erase_local(self, rows: list[q.BlobRow]) -> list[_Outcome] | None:
        """``_erase_bytes`` for local files, right here in the transaction's thread (no hop per file);
        None when the store has no local files."""
        outcomes = []
        for row in rows:
            try:
                erased = self.store.erase_local(Digest.parse(row.digest), kept_if_modified_after=self._fresh_after(row))
            except Exception as error:  # one bad blob must not end the run
                log.warning("garbage collection: deleting %s failed: %s", row.digest, error)
                outcomes.append(_Outcome(row.digest, 0, error=f"{type(error).__name__}: {error}"))
                continue
            if erased is None:
                return None
            state, size = erased
            outcomes.append(_Outcome(row.digest, size, kept_fresh=state == "fresh"))
        return outcomes

    async def _erase_bytes(self, rows: list[q.BlobRow]) -> list[_Outcome]:
        limiter = asyncio.Semaphore(self.parameters.workers)

        async def one(row: q.BlobRow) -> _Outcome:
            async with limiter:
                digest = Digest.parse(row.digest)
                try:
                    info = await self.store.stat(digest)
                    if info is None:
                        return _Outcome(row.digest, 0)
                    if info.modified > self._fresh_after(row):
                        return _Outcome(row.digest, 0, kept_fresh=True)
                    await self.store.delete_blob(digest)
                    return _Outcome(row.digest, info.size)
                except FileNotFoundError:
                    return _Outcome(row.digest, 0)
                except Exception as error:  # one bad blob must not end the run
                    log.warning("garbage collection: deleting %s failed: %s", row.digest, error)
                    return _Outcome(row.digest, 0, error=f"{type(error).__name__}: {error}")

        return list(await asyncio.gather(*(one(row) for row in rows)))

    # 4. Uploads -----------------------------------------------------------------------------------

    async def _uploads(self) -> None:
        expiry_ms = self.settings.upload_expiry_seconds * 1000
        before = self.started - expiry_ms
        stale = set(await self._read(lambda conn: uploads_q.stale(conn, before_ms=before)))
        for upload_id in sorted(stale):
            size = await self.store.upload_size(upload_id)
            if not self.dry:
                if not await self.db.write(partial(uploads_q.remove_if_stale, upload_id=upload_id, before_ms=before)):
                    continue  # resumed since it was found stale
                await self.store.delete_upload(upload_id)
            self.figures.uploads += 1
            self.figures.upload_bytes += size
            self.journal.log(
                "info", f"upload session {upload_id} ({size} bytes) {'would be ' if self.dry else ''}removed: expired"
            )
        stored = await self.store.list_uploads()
        known = await self._read(lambda conn: uploads_q.known(conn, stored))
        for upload_id in stored:
            if upload_id in known or upload_id in stale:
                continue
            size = await self.store.upload_size(upload_id)
            info = await self.store.driver.stat(paths.upload_data(upload_id))
            if info is not None and info.modified * 1000 >= before:
                continue
            if self.dry or await self.store.delete_idle_upload(upload_id, older_than_seconds=expiry_ms / 1000):
                self.figures.uploads += 1
                self.figures.upload_bytes += size
                self.journal.log(
                    "info",
                    f"upload data {upload_id} ({size} bytes) {'would be ' if self.dry else ''}"
                    "removed: no session owns it",
                )
        await self._checkpoint()

    # 5. Orphaned blob files -----------------------------------------------------------------------

    async def _orphans(self) -> None:
        async for found in self.store.stored_digests():
            for start in range(0, len(found), self.settings.batch_size):
                chunk = found[start : start + self.settings.batch_size]
                names = [str(d) for d in chunk]
                known = await self._read(partial(q.known_digests, digests=names))
                unknown = [d for d in chunk if str(d) not in known]
                if unknown:
                    await self._orphan_chunk(unknown)
            await self._checkpoint()

    async def _orphan_chunk(self, unknown: list[Digest]) -> None:
        old = []
        for digest in unknown:
            info = await self.store.stat(digest)
            if info is not None and info.modified * 1000 < self.cutoff:
                old.append((digest, info.size))
        if not old:
            return
        if self.dry:
            for digest, size in old:
                self.figures.orphans += 1
                self.figures.orphan_bytes += size
                self.journal.log("info", f"blob file {digest} ({size} bytes), known to no metadata, would be removed")
            return

        async def remove(candidates: list[tuple[Digest, int]]) -> list[tuple[Digest, int, str]]:
            done = []
            for digest, _size in candidates:
                try:
                    info = await self.store.stat(digest)
                    if info is None or info.modified * 1000 >= self.cutoff:
                        continue
                    await self.store.delete_blob(digest)
                    done.append((digest, info.size, ""))
                except Exception as error:
                    done.append((digest, 0, f"{type(error).__name__}: {error}"))
            return done

        def work(conn: Connection) -> list[tuple[Digest, int, str]]:
            q.collector_fence(conn)
            known = q.known_digests(conn, [str(d) for d, _ in old])
            return anyio.from_thread.run(remove, [(d, s) for d, s in old if str(d) not in known])

        for digest, size, error in await self.db.write(work):
            if error:
                self.figures.errors += 1
                self.journal.log("error", f"blob file {digest}: storage error ({error}); the next run tries again")
            else:
                self.figures.orphans += 1
                self.figures.orphan_bytes += size
                self.journal.log("info", f"blob file {digest} ({size} bytes), known to no metadata, removed")
        await self._pause()
