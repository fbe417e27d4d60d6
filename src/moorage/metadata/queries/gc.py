"""Garbage collection's SQL: the fence between the collector and writers, the writers' marks on
blobs they use, the collector's candidate pages and its conditional deletes, and the runs, logs and
schedules of the GC API. Why it is safe: ``moorage.services.lifecycle``.

Every conditional delete here re-states its whole condition in SQL, so it holds at the moment the
row goes, whatever the collector read earlier; the fence makes that moment one no writer shares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, exists, func, not_, or_, select, text, update
from sqlalchemy.engine import Connection

from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.queries import namespace_usage
from moorage.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
)

FENCE_KEY = 0x6D6F_6F72_6763
"""The PostgreSQL advisory lock that orders the collector's deletions against the writers."""


# The fence -----------------------------------------------------------------------------------------


def writer_fence(conn: Connection) -> None:
    """Called first in a transaction that creates a repository link, a manifest reference or a tag
    relying on stored bytes: the collector does not delete anything until it commits. PostgreSQL:
    a shared advisory lock (writers do not wait for each other); SQLite: nothing to do, write
    transactions are serial already."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": FENCE_KEY})


def collector_fence(conn: Connection) -> None:
    """Called first in each of the collector's deleting transactions (and in a refused push's, which
    takes back the blob file it made): no writer is inside the fence while it checks and deletes
    (PostgreSQL: the exclusive advisory lock; SQLite: nothing)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FENCE_KEY})


# What writers record ----------------------------------------------------------------------------------

_LINKED_BLOB = (
    select(blobs.c.size, blobs.c.touched_at)
    .select_from(repository_blobs.join(blobs, repository_blobs.c.digest == blobs.c.digest))
    .where(
        repository_blobs.c.repository_id == bindparam("in_repository"),
        repository_blobs.c.digest == bindparam("of_digest"),
    )
)
_REVIVE = (
    update(blobs)
    .where(blobs.c.digest == bindparam("of_digest"))
    .values(touched_at=bindparam("now"), deleting_since=None)
)
_TOUCH_LINKED = (
    update(blobs)
    .where(
        blobs.c.digest == bindparam("of_digest"),
        blobs.c.deleting_since.is_(None),
        exists().where(
            repository_blobs.c.repository_id == bindparam("in_repository"), repository_blobs.c.digest == blobs.c.digest
        ),
    )
    .values(touched_at=bindparam("now"))
)
_BLOB_STATE = select(blobs.c.deleting_since).where(blobs.c.digest == bindparam("of_digest"))


def linked_blob(conn: Connection, repository_id: int, digest: str) -> tuple[int, int] | None:
    """(size, last use) of a blob the repository may serve, else None."""
    row = direct.run(conn, _LINKED_BLOB, {"in_repository": repository_id, "of_digest": digest}).first()
    return (int(row[0]), int(row[1])) if row else None


def revive(conn: Connection, digest: str) -> None:
    """A writer uses the blob now (its bytes are stored: the caller made sure): not garbage for a
    grace period, and no longer being deleted."""
    conn.execute(_REVIVE, {"of_digest": digest, "now": now_ms()})


def touch_linked(conn: Connection, repository_id: int, digest: str) -> bool:
    """A client found the blob through the repository (HEAD or GET, before a push that skips it):
    not garbage for a grace period. False when the link or the blob is gone by now."""
    result = conn.execute(_TOUCH_LINKED, {"of_digest": digest, "in_repository": repository_id, "now": now_ms()})
    return bool(result.rowcount)


def blob_deleting(conn: Connection, digest: str) -> bool | None:
    """Whether the collector is deleting the blob (None: no such blob)."""
    row = conn.execute(_BLOB_STATE, {"of_digest": digest}).first()
    return None if row is None else row[0] is not None


# The collector: blobs and links ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlobRow:
    """A blob as the collector reads it."""

    digest: str
    size: int
    touched_at: int
    deleting_since: int | None


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A repository's link to a blob."""

    digest: str
    repository_id: int
    created_at: int
    instance_id: str


def _blob_row(row: Sequence[object]) -> BlobRow:
    digest, size, touched, deleting = row[:4]
    return BlobRow(str(digest), int(size), int(touched), None if deleting is None else int(deleting))  # type: ignore[call-overload]


def blob_page(conn: Connection, *, after: str, limit: int, instance_id: str | None = None) -> list[BlobRow]:
    """Blobs after ``after`` in digest order: every one, or those an instance's repositories link."""
    query = select(blobs.c.digest, blobs.c.size, blobs.c.touched_at, blobs.c.deleting_since).where(
        blobs.c.digest > after
    )
    if instance_id is not None:
        query = query.where(
            exists().where(
                repository_blobs.c.digest == blobs.c.digest,
                repositories.c.id == repository_blobs.c.repository_id,
                repositories.c.instance_id == instance_id,
            )
        )
    rows = conn.execute(query.order_by(blobs.c.digest).limit(limit))
    return [_blob_row(r) for r in rows]


def links_of(conn: Connection, digests: Sequence[str]) -> list[LinkRow]:
    """Every repository link to these blobs."""
    if not digests:
        return []
    rows = conn.execute(
        select(
            repository_blobs.c.digest,
            repository_blobs.c.repository_id,
            repository_blobs.c.created_at,
            repositories.c.instance_id,
        )
        .select_from(repository_blobs.join(repositories, repositories.c.id == repository_blobs.c.repository_id))
        .where(repository_blobs.c.digest.in_(list(digests)))
    )
    return [LinkRow(r[0], int(r[1]), int(r[2]), r[3]) for r in rows]


def referencing_repositories(conn: Connection, digests: Sequence[str]) -> set[tuple[str, int]]:
    """(digest, repository id) for each repository with a manifest referencing one of these blobs
    (a blob shared by a thousand manifests of a repository is one pair)."""
    if not digests:
        return set()
    rows = conn.execute(
        select(manifest_references.c.digest, manifests.c.repository_id)
        .distinct()
        .select_from(manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id))
        .where(manifest_references.c.digest.in_(list(digests)))
    )
    return {(r[0], int(r[1])) for r in rows}


def references_of(conn: Connection, digests: Sequence[str]) -> list[tuple[str, int, int]]:
    """(digest, manifest id, repository id) of every reference to these blobs (dry runs, which must
    leave out the manifests they would have deleted)."""
    if not digests:
        return []
    rows = conn.execute(
        select(manifest_references.c.digest, manifest_references.c.manifest_id, manifests.c.repository_id)
        .select_from(manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id))
        .where(manifest_references.c.digest.in_(list(digests)))
    )
    return [(r[0], int(r[1]), int(r[2])) for r in rows]


# Prebuilt: run with one parameter set per link or repository (executemany) for a batch at a time.
_UNLINK = delete(repository_blobs).where(
    repository_blobs.c.repository_id == bindparam("in_repository"), repository_blobs.c.digest == bindparam("of_digest")
)
_SHRINK = {
    sqlite: update(repositories)
    .where(repositories.c.id == bindparam("in_repository"))
    .values(
        size=(func.max if sqlite else func.greatest)(repositories.c.size - bindparam("by"), 0),
        updated_at=bindparam("now"),
    )
    for sqlite in (True, False)
}


def release_links(conn: Connection, pairs: Sequence[tuple[int, str]], *, cutoff: int) -> int:
    """Remove those of these (repository id, digest) links that still are garbage: made before
    ``cutoff``, the blob not used since, and no manifest of the repository referencing it. Each
    repository's size shrinks by the blobs it no longer links. How many links went."""
    wanted = set(pairs)
    if not wanted:
        return 0
    referenced = exists().where(
        manifest_references.c.digest == repository_blobs.c.digest,
        manifests.c.id == manifest_references.c.manifest_id,
        manifests.c.repository_id == repository_blobs.c.repository_id,
    )
    # digest IN (...) takes the digest index (a row-value IN would scan the table on SQLite); the
    # pairs are picked out here.
    rows = conn.execute(
        select(repository_blobs.c.repository_id, repository_blobs.c.digest, blobs.c.size)
        .select_from(repository_blobs.join(blobs, blobs.c.digest == repository_blobs.c.digest))
        .where(
            repository_blobs.c.digest.in_(sorted({digest for _, digest in wanted})),
            repository_blobs.c.created_at < cutoff,
            blobs.c.touched_at < cutoff,
            not_(referenced),
        )
    ).all()
    released = [(int(r), d, int(size)) for r, d, size in rows if (int(r), d) in wanted]
    if not released:
        return 0
    conn.execute(_UNLINK, [{"in_repository": r, "of_digest": d} for r, d, _ in released])
    namespace_usage.links_removed(conn, [(r, d) for r, d, _ in released])  # quotas' and usage's counters
    shrink: dict[int, int] = defaultdict(int)
    for repository_id, _digest, size in released:
        shrink[repository_id] += size
    now = now_ms()
    conn.execute(
        _SHRINK[conn.dialect.name == "sqlite"],
        [{"in_repository": r, "by": size, "now": now} for r, size in sorted(shrink.items())],
    )
    return len(released)


def mark_deleting(conn: Connection, digests: Sequence[str], *, cutoff: int) -> list[str]:
    """Mark as being deleted those of these blobs that still are garbage: not used since ``cutoff``,
    no repository linking them, no manifest referencing them. From then on no writer relies on their
    bytes without first putting them back (see ``revive``). The digests marked."""
    if not digests:
        return []
    result = conn.execute(
        update(blobs)
        .where(
            blobs.c.digest.in_(list(digests)),
            blobs.c.deleting_since.is_(None),
            blobs.c.touched_at < cutoff,
            not_(exists().where(repository_blobs.c.digest == blobs.c.digest)),
            not_(exists().where(manifest_references.c.digest == blobs.c.digest)),
        )
        .values(deleting_since=now_ms())
        .returning(blobs.c.digest)
    )
    return [r[0] for r in result]


def deleting_rows(conn: Connection, digests: Sequence[str]) -> dict[str, BlobRow]:
    """Those of ``digests`` still marked as being deleted."""
    if not digests:
        return {}
    rows = conn.execute(
        select(blobs.c.digest, blobs.c.size, blobs.c.touched_at, blobs.c.deleting_since).where(
            blobs.c.digest.in_(list(digests)), blobs.c.deleting_since.is_not(None)
        )
    )
    return {r[0]: _blob_row(r) for r in rows}


def forget_blobs(conn: Connection, digests: Sequence[str]) -> set[str]:
    """Drop the rows of blobs marked as being deleted (their bytes are gone); the digests dropped."""
    if not digests:
        return set()
    result = conn.execute(
        delete(blobs)
        .where(blobs.c.digest.in_(list(digests)), blobs.c.deleting_since.is_not(None))
        .returning(blobs.c.digest)
    )
    return {r[0] for r in result}


def marked_page(conn: Connection, *, after: str, limit: int) -> list[BlobRow]:
    """Blobs marked as being deleted, in digest order (left by a run that was killed)."""
    rows = conn.execute(
        select(blobs.c.digest, blobs.c.size, blobs.c.touched_at, blobs.c.deleting_since)
        .where(blobs.c.deleting_since.is_not(None), blobs.c.digest > after)
        .order_by(blobs.c.digest)
        .limit(limit)
    )
    return [_blob_row(r) for r in rows]


def known_digests(conn: Connection, digests: Sequence[str]) -> set[str]:
    """Which of ``digests`` have a blob row."""
    if not digests:
        return set()
    return {r[0] for r in conn.execute(select(blobs.c.digest).where(blobs.c.digest.in_(list(digests))))}


# The collector: manifests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestNode:
    """A manifest of one repository, as reachability needs it."""

    id: int
    digest: str
    subject: str | None
    created_at: int
    tagged: bool


def repositories_with_untagged(
    conn: Connection, *, after: int, limit: int, instance_id: str, created_before: int
) -> list[int]:
    """Ids (after ``after``, ascending) of the instance's repositories holding an untagged manifest
    made before ``created_before``: the only ones where manifests can be garbage."""
    untagged = and_(
        manifests.c.repository_id == repositories.c.id,
        manifests.c.created_at < created_before,
        not_(exists().where(tags.c.manifest_id == manifests.c.id)),
    )
    rows = conn.execute(
        select(repositories.c.id)
        .where(repositories.c.instance_id == instance_id, repositories.c.id > after, exists().where(untagged))
        .order_by(repositories.c.id)
        .limit(limit)
    )
    return [int(r[0]) for r in rows]


def repository_graph(conn: Connection, repository_id: int) -> tuple[list[ManifestNode], list[tuple[int, str]]]:
    """The repository's manifests, and its (index id, child digest) edges."""
    tagged = {
        int(r[0])
        for r in conn.execute(select(tags.c.manifest_id).distinct().where(tags.c.repository_id == repository_id))
    }
    nodes = [
        ManifestNode(int(r[0]), r[1], r[2], int(r[3]), int(r[0]) in tagged)
        for r in conn.execute(
            select(manifests.c.id, manifests.c.digest, manifests.c.subject_digest, manifests.c.created_at).where(
                manifests.c.repository_id == repository_id
            )
        )
    ]
    edges = [
        (int(r[0]), r[1])
        for r in conn.execute(
            select(manifest_references.c.manifest_id, manifest_references.c.digest)
            .select_from(manifest_references.join(manifests, manifests.c.id == manifest_references.c.manifest_id))
            .where(manifests.c.repository_id == repository_id, manifest_references.c.kind == "manifest")
        )
    ]
    return nodes, edges


def delete_manifest_group(conn: Connection, repository_id: int, ids: Sequence[int], *, created_before: int) -> int:
    """Delete manifests that together are garbage, if they still are: each made before
    ``created_before``, none tagged now, and no other manifest of the repository lists one as a child,
    has one as its subject, or is the subject of one. How many were deleted (0: something changed; the
    group stays). The age is checked again because an id may name another row by now: SQLite gives a
    new row the id of the largest one deleted, so a manifest deleted and pushed again has its old id."""
    found = conn.execute(
        select(manifests.c.id, manifests.c.digest, manifests.c.subject_digest, manifests.c.created_at).where(
            manifests.c.repository_id == repository_id, manifests.c.id.in_(list(ids))
        )
    ).all()
    if not found or any(int(r[3]) >= created_before for r in found):
        return 0
    members = [int(r[0]) for r in found]
    digests = [r[1] for r in found]
    subjects = [r[2] for r in found if r[2] is not None]
    outside = and_(manifests.c.repository_id == repository_id, manifests.c.id.not_in(members))
    held = (
        exists().where(tags.c.manifest_id.in_(members)),
        exists().where(
            outside,
            manifest_references.c.manifest_id == manifests.c.id,
            manifest_references.c.kind == "manifest",
            manifest_references.c.digest.in_(digests),
        ),
        exists().where(outside, manifests.c.subject_digest.in_(digests)),
        *((exists().where(outside, manifests.c.digest.in_(subjects)),) if subjects else ()),
    )
    if conn.execute(select(or_(*held))).scalar():
        return 0
    conn.execute(delete(manifest_references).where(manifest_references.c.manifest_id.in_(members)))
    result = conn.execute(delete(manifests).where(manifests.c.id.in_(members)))
    return int(result.rowcount or 0)
