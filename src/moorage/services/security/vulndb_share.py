"""One advisory database for every node, through the blob storage.

A worker builds the database (``advisory_updates.run_update``) on its own disk. Nodes that share no
filesystem (S3 storage: nothing but the database and the object store is shared) would each be
without it, and each would see "no advisory database" and queue a rebuild of its own, again and
again, with scans matched against whichever build a node happens to hold. So with sharing on
(``MOORAGE_SCANNER__VULNDB_SHARE``; on by default with S3 storage) the worker that built it
*publishes* the file: a copy in storage under its SHA-256 (``vulndb/<hex>.sqlite``), then the
``advisory_db_published`` row names it (hash, size, build time). Every process *refreshes*
(workers each periodic pass and before a re-match; HTTP processes on the same interval): when the
row names a file other than the one on its disk, it downloads the copy beside its own path,
checks size and hash, and renames it into place. The update schedule reads the build time from the
row, so a node that has not fetched the file yet does not queue a rebuild. A database installed on
a worker's node by hand (``moorage vulndb import``), or one built before sharing was turned on, is
newer than what is published: the workers' periodic pass publishes it, and a refresh never replaces
it with an older build.

The copy before the current one is kept (a node may still be downloading it); older ones are removed
when a new one is published.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from moorage.domain.clock import iso_to_ms
from moorage.metadata.database import Database
from moorage.metadata.queries import security_tasks as state_q
from moorage.scanner.advisories.errors import StoreError
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.storage.blobstore import BlobStore

log = logging.getLogger(__name__)

STATE_KEY = "advisory_db_published"
_PIECE = 4 << 20


@dataclass(frozen=True, slots=True)
class Published:
    """The database every node should hold."""

    sha256: str
    size: int
    built_at: str
    previous: str = ""
    """The SHA-256 of the copy published before this one (kept for nodes still downloading it)."""

    def to_text(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> Published | None:
        """Read the stored form; None when nothing (readable) was published."""
        try:
            body: Any = json.loads(text) if text else None
            if not isinstance(body, dict):
                return None
            found = cls(str(body["sha256"]), int(body["size"]), str(body["built_at"]), str(body.get("previous", "")))
        except (ValueError, KeyError, TypeError):
            return None
        if len(found.sha256) != 64 or any(c not in "0123456789abcdef" for c in found.sha256) or found.size < 0:
            return None
        return found


def published(db: Database) -> Published | None:
    """What the row names (None: nothing published)."""
    return Published.from_text(db.run_read(lambda conn: state_q.state(conn, STATE_KEY)))


def _hash_file(path: Path) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while piece := file.read(_PIECE):
            hasher.update(piece)
            size += len(piece)
    return hasher.hexdigest(), size


class VulndbShare:
    """Publishes and fetches this process's advisory database file (see the module)."""

    def __init__(self, db: Database, store: BlobStore, path: Path) -> None:
        self.db = db
        self.store = store
        self.path = path
        self._known: tuple[tuple[int, int, int], str] | None = None
        """(inode, size, mtime) of the local file and its SHA-256, so a refresh hashes it once."""

    def _local_sha256(self) -> str | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        if self._known is None or self._known[0] != key:
            self._known = (key, _hash_file(self.path)[0])
        return self._known[1]

    async def publish(self) -> Published:
        """Copy the local database into storage and name it as the one every node should hold."""
        digest, size = await anyio.to_thread.run_sync(_hash_file, self.path)
        built_at = await anyio.to_thread.run_sync(self._built_at)
        before = await anyio.to_thread.run_sync(published, self.db)
        if before is None or before.sha256 != digest:
            await self.store.put_advisories(digest, self.path)
        kept = before.sha256 if before is not None and before.sha256 != digest else ""
        current = Published(digest, size, built_at, previous=kept)
        await anyio.to_thread.run_sync(
            lambda: self.db.run_write(lambda conn: state_q.set_state(conn, STATE_KEY, current.to_text()))
        )
        if before is not None and before.previous and before.previous not in (digest, current.previous):
            await self.store.delete_advisories(before.previous)
        log.info("advisory database built at %s published to storage (%d bytes)", built_at, size)
        return current

    def _built_at(self) -> str:
        with AdvisoryStore(self.path) as store:
            return store.built_at

    def _local_is_newer(self, than: Published | None) -> bool:
        """Whether the local file is a database built after ``than`` (or there is none published):
        one installed here by ``moorage vulndb build/update/import``. A file that cannot be read is
        never newer."""
        if not self.path.is_file():
            return False
        try:
            local = iso_to_ms(self._built_at())
        except StoreError:
            return False
        return than is None or (local is not None and local > (iso_to_ms(than.built_at) or 0))

    async def publish_if_newer(self) -> Published | None:
        """Publish the local database when it is newer than the published one (or none is): an
        upgrade to sharing, or a file an operator installed on this node. Run by one process at a
        time (the workers' claimed periodic pass), so nodes do not upload at once."""
        wanted = await anyio.to_thread.run_sync(published, self.db)
        if not await anyio.to_thread.run_sync(self._local_is_newer, wanted):
            return None
        return await self.publish()

    async def refresh(self) -> bool:
        """Install the published database when the local file is another (or missing) and not newer;
        whether it did. A copy that is not what the row says (size, hash) is refused and the local
        file kept."""
        wanted = await anyio.to_thread.run_sync(published, self.db)
        if wanted is None or await anyio.to_thread.run_sync(self._local_sha256) == wanted.sha256:
            return False
        if await anyio.to_thread.run_sync(self._local_is_newer, wanted):
            return False  # to be published by the periodic pass, not replaced by an older build
        scratch = await anyio.to_thread.run_sync(self._scratch)
        try:
            await self._download(wanted, scratch)
            await anyio.to_thread.run_sync(os.replace, scratch, self.path)
        finally:
            await anyio.to_thread.run_sync(lambda: scratch.unlink(missing_ok=True))
        log.info("advisory database built at %s fetched from storage", wanted.built_at)
        return True

    def _scratch(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".vulndb-fetch-", dir=self.path.parent)
        os.close(fd)
        return Path(name)

    async def _download(self, wanted: Published, scratch: Path) -> None:
        """The published copy into ``scratch``, fsync'd, refused unless its size and hash are the row's."""
        hasher = hashlib.sha256()
        size = 0
        file = await anyio.to_thread.run_sync(scratch.open, "wb")
        try:

            def keep(data: bytes) -> None:
                hasher.update(data)
                file.write(data)

            async for piece in self.store.read_advisories(wanted.sha256):
                size += len(piece)
                if size > wanted.size:
                    raise StoreError(f"the published advisory database is larger than {wanted.size} bytes")
                await anyio.to_thread.run_sync(keep, piece)
            await anyio.to_thread.run_sync(file.flush)
            await anyio.to_thread.run_sync(os.fsync, file.fileno())
        finally:
            await anyio.to_thread.run_sync(file.close)
        if size != wanted.size or hasher.hexdigest() != wanted.sha256:
            raise StoreError(
                f"the published advisory database {wanted.sha256[:12]} arrived as {size} bytes "
                f"hashing to {hasher.hexdigest()[:12]}"
            )
