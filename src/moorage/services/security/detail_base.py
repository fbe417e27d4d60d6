"""What every detail service shares: the images the caller sees, naming an image, reading the
account's handling state, and running the (synchronous, database-bound) work off the event loop."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import TypeVar

import anyio.to_thread

from moorage.domain.errors import NotFound
from moorage.domain.security import ImageRow, ImageVisibility
from moorage.domain.security_images import ImageRef
from moorage.metadata.database import Database
from moorage.metadata.queries import security_details as details_q
from moorage.services.security.detail_reader import DetailReader

T = TypeVar("T")


class DetailBase:
    """A service over the scan results' details."""

    def __init__(self, db: Database, reader: DetailReader) -> None:
        self.db = db
        self.reader = reader

    @staticmethod
    async def run(work: Callable[[], T]) -> T:
        """Run blocking work (database reads, report parsing) in a worker thread."""
        return await anyio.to_thread.run_sync(work)

    def image(self, seen: ImageVisibility, ref: ImageRef) -> ImageRow:
        """The image a request names, among those the caller sees; ``NotFound`` when there is none
        (an image the caller may not see is one that does not exist)."""
        row = self.db.run_read(lambda conn: details_q.resolve(conn, seen, ref))
        if row is None:
            raise NotFound(f"image {ref.image_id[:80]!r} not found", reason="image_not_found")
        return row


def row_ids_by_digest(row: ImageRow) -> dict[str, tuple[int, ...]]:
    """For each digest holding a row's findings, the row ids that name it (a platform image is
    also named by its multi-architecture image)."""
    if row.children:
        found: dict[str, tuple[int, ...]] = {}
        for child in row.children:
            found[child.image_digest] = (*found.get(child.image_digest, ()), child.id, row.id)
        return found
    return {row.image_digest: (row.id,) if row.parent_id is None else (row.id, row.parent_id)}


def path_allowed(path: str, allowlist: Sequence[str]) -> bool:
    """Whether a file path is covered by an allowlist entry: the path itself, a directory above
    it, or a glob (``*``, ``?``, ``[...]``) that matches it."""
    for entry in allowlist:
        if not entry:
            continue
        if any(ch in entry for ch in "*?["):
            if fnmatch.fnmatchcase(path, entry):
                return True
        elif path == entry.rstrip("/") or path.startswith(entry.rstrip("/") + "/"):
            return True
    return False
