"""The bytes each organization holds, kept in step with its blob links.

``namespace_blobs`` has one row per (organization, blob) with how many of the organization's
repositories link the blob; ``namespace_storage`` the sum of those blobs' sizes. Every function here
runs in the transaction that changes ``repository_blobs`` (``blobs.link``/``unlink`` and the two
repository removals call them), so the counters never disagree with the links; rows go with their
organization (foreign keys cascade). Code that deletes ``repository_blobs`` rows some other way
must call ``link_removed``, ``links_removed`` or ``repository_removed`` in the same transaction; ``computed_stored``
recounts from the links (for checks) and ``recount`` rebuilds an organization's rows (a repair).
Concurrent links of one blob into one organization are decided by the insert of its row (the loser,
on PostgreSQL after the winner committed, counts a link, not bytes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from moorage.metadata import direct
from moorage.metadata.tables import (
    blobs,
    namespace_blobs,
    namespace_storage,
    namespaces,
    repositories,
    repository_blobs,
)
from moorage.metadata.upsert import insert_ignore, upsert

_NAMESPACE_OF = select(repositories.c.namespace_id).where(repositories.c.id == bindparam("repository"))
_ONE_MORE_LINK = (
    update(namespace_blobs)
    .where(
        namespace_blobs.c.namespace_id == bindparam("in_namespace"),
        namespace_blobs.c.digest == bindparam("of_digest"),
    )
    .values(links=namespace_blobs.c.links + 1)
)


def _grow_statement(insert: Any) -> Any:
    stmt = insert(namespace_storage).values(namespace_id=bindparam("in_namespace"), stored_bytes=bindparam("by"))
    grown = namespace_storage.c.stored_bytes + stmt.excluded.stored_bytes
    return stmt.on_conflict_do_update(index_elements=["namespace_id"], set_={"stored_bytes": grown})


# Built once per dialect: every new blob link of a push runs one (see moorage.metadata.upsert on why).
_GROW = {"sqlite": _grow_statement(sqlite.insert), "postgresql": _grow_statement(postgresql.insert)}


def _grow(conn: Connection, namespace_id: int, by: int) -> None:
    if by:
        direct.run(conn, _GROW[conn.dialect.name], {"in_namespace": namespace_id, "by": by})


def link_added(
    conn: Connection, repository_id: int, digest: str, size: int, *, namespace_id: int | None = None
) -> None:
    """A repository links a blob it did not: the organization holds it once more (its bytes count
    if it is the first of the organization's repositories to link it). ``namespace_id``: the
    repository's, when the caller has it."""
    if namespace_id is None:
        namespace_id = conn.execute(_NAMESPACE_OF, {"repository": repository_id}).scalar_one()
    if insert_ignore(
        conn,
        namespace_blobs,
        {"namespace_id": namespace_id, "digest": digest, "size": size, "links": 1},
        conflict=["namespace_id", "digest"],
    ):
        _grow(conn, namespace_id, size)
    else:
        direct.run(conn, _ONE_MORE_LINK, {"in_namespace": namespace_id, "of_digest": digest})


def link_removed(conn: Connection, repository_id: int, digest: str) -> None:
    """A repository stopped linking a blob: the organization holds it once less (its bytes go with
    the last link)."""
    namespace_id = conn.execute(_NAMESPACE_OF, {"repository": repository_id}).scalar()
    if namespace_id is None:
        return
    where = (namespace_blobs.c.namespace_id == namespace_id) & (namespace_blobs.c.digest == digest)
    row = conn.execute(select(namespace_blobs.c.size, namespace_blobs.c.links).where(where)).first()
    if row is None:
        return
    if row[1] <= 1:
        conn.execute(delete(namespace_blobs).where(where))
        _grow(conn, namespace_id, -int(row[0]))
    else:
        conn.execute(update(namespace_blobs).where(where).values(links=namespace_blobs.c.links - 1))


def links_removed(conn: Connection, pairs: Sequence[tuple[int, str]]) -> None:
    """Many (repository id, digest) links gone at once (the garbage collector's batches): what
    ``link_removed`` does for each, in a few statements per organization instead of three per link."""
    if not pairs:
        return
    owners = dict(
        conn.execute(
            select(repositories.c.id, repositories.c.namespace_id).where(
                repositories.c.id.in_(sorted({repository_id for repository_id, _ in pairs}))
            )
        ).all()
    )
    lost: dict[int, Counter[str]] = defaultdict(Counter)
    for repository_id, digest in pairs:
        if (namespace_id := owners.get(repository_id)) is not None:
            lost[int(namespace_id)][digest] += 1
    for namespace_id, counts in sorted(lost.items()):
        by_count: dict[int, list[str]] = defaultdict(list)
        for digest, count in counts.items():
            by_count[count].append(digest)
        for count, digests in sorted(by_count.items()):
            conn.execute(
                update(namespace_blobs)
                .where(namespace_blobs.c.namespace_id == namespace_id, namespace_blobs.c.digest.in_(sorted(digests)))
                .values(links=namespace_blobs.c.links - count)
            )
        gone = (
            (namespace_blobs.c.namespace_id == namespace_id)
            & namespace_blobs.c.digest.in_(sorted(counts))
            & (namespace_blobs.c.links <= 0)
        )
        freed = int(conn.execute(select(func.coalesce(func.sum(namespace_blobs.c.size), 0)).where(gone)).scalar_one())
        conn.execute(delete(namespace_blobs).where(gone))
        _grow(conn, namespace_id, -freed)


def repository_removed(conn: Connection, repository_id: int) -> None:
    """A repository is about to be deleted with its links: each blob it links loses a link (call in
    the deleting transaction, before the delete)."""
    namespace_id = conn.execute(_NAMESPACE_OF, {"repository": repository_id}).scalar()
    if namespace_id is None:
        return
    linked = select(repository_blobs.c.digest).where(repository_blobs.c.repository_id == repository_id)
    conn.execute(
        update(namespace_blobs)
        .where(namespace_blobs.c.namespace_id == namespace_id, namespace_blobs.c.digest.in_(linked))
        .values(links=namespace_blobs.c.links - 1)
    )
    gone = (namespace_blobs.c.namespace_id == namespace_id) & (namespace_blobs.c.links <= 0)
    freed = int(conn.execute(select(func.coalesce(func.sum(namespace_blobs.c.size), 0)).where(gone)).scalar_one())
    conn.execute(delete(namespace_blobs).where(gone))
    _grow(conn, namespace_id, -freed)


def held(conn: Connection, namespace_id: int, digest: str) -> bool:
    """Whether a repository of the organization links the blob."""
    return (
        conn.execute(
            select(namespace_blobs.c.links).where(
                namespace_blobs.c.namespace_id == namespace_id, namespace_blobs.c.digest == digest
            )
        ).first()
        is not None
    )


def computed_stored(conn: Connection, namespace_id: int) -> int:
    """The organization's bytes recounted from the links (O(links): for checks and repairs only)."""
    pairs = (
        select(repository_blobs.c.digest)
        .distinct()
        .select_from(repository_blobs.join(repositories, repositories.c.id == repository_blobs.c.repository_id))
        .where(repositories.c.namespace_id == namespace_id)
        .subquery()
    )
    return int(
        conn.execute(
            select(func.coalesce(func.sum(blobs.c.size), 0)).select_from(
                pairs.join(blobs, blobs.c.digest == pairs.c.digest)
            )
        ).scalar_one()
    )


def recount(conn: Connection, namespace_id: int) -> None:
    """Rebuild an organization's rows from its links (a repair; the counters are otherwise exact)."""
    conn.execute(delete(namespace_blobs).where(namespace_blobs.c.namespace_id == namespace_id))
    rows = conn.execute(
        select(repository_blobs.c.digest, blobs.c.size, func.count())
        .select_from(
            repository_blobs.join(repositories, repositories.c.id == repository_blobs.c.repository_id).join(
                blobs, blobs.c.digest == repository_blobs.c.digest
            )
        )
        .where(repositories.c.namespace_id == namespace_id)
        .group_by(repository_blobs.c.digest, blobs.c.size)
    ).all()
    if rows:
        conn.execute(
            namespace_blobs.insert(),
            [{"namespace_id": namespace_id, "digest": r[0], "size": int(r[1]), "links": int(r[2])} for r in rows],
        )
    upsert(
        conn,
        namespace_storage,
        {"namespace_id": namespace_id, "stored_bytes": sum(int(r[1]) for r in rows)},
        conflict=["namespace_id"],
        update=["stored_bytes"],
    )


def namespace_ids(conn: Connection, instance_id: str) -> list[int]:
    """The organizations of an instance."""
    return [int(r[0]) for r in conn.execute(select(namespaces.c.id).where(namespaces.c.instance_id == instance_id))]
