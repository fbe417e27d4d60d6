"""What a retention run reads and locks: a repository's images as candidates, and the rows a
deletion re-checks in its own transaction (on PostgreSQL under row locks, so a push that moves or
re-pushes a tag, or tags the manifest, waits for the deletion or is seen by it)."""

from __future__ import annotations

from sqlalchemy import exists, func, not_, select
from sqlalchemy.engine import Connection

from moorage.domain.retention import Candidate, TagState
from moorage.metadata.queries.enterprise_artifacts import COSIGN_TAG, is_artifact
from moorage.metadata.tables import manifest_references, manifests, tags


def tagged_candidates(conn: Connection, repository_id: int) -> list[Candidate]:
    """The repository's tagged images, one per manifest with its tags, leaving out accessories (a
    manifest with a ``subject``) and cosign's accessory tags (``sha256-<hex>.sig`` and the like)."""
    rows = conn.execute(
        select(
            tags.c.name,
            tags.c.id,
            tags.c.updated_at,
            manifests.c.id,
            manifests.c.digest,
            manifests.c.created_at,
            manifests.c.last_pulled_at,
        )
        .select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))
        .where(tags.c.repository_id == repository_id, manifests.c.subject_digest.is_(None))
        .order_by(manifests.c.id, tags.c.id)
    )
    found: dict[int, tuple[str, int, int | None, list[TagState]]] = {}
    for name, tag_id, pushed_at, manifest_id, digest, created_at, pulled_at in rows:
        if COSIGN_TAG.fullmatch(str(name)):
            continue
        entry = found.setdefault(
            int(manifest_id), (str(digest), int(created_at), None if pulled_at is None else int(pulled_at), [])
        )
        entry[3].append(TagState(str(name), int(tag_id), int(manifest_id), int(pushed_at)))
    return [
        Candidate(manifest_id, digest, tuple(states), created_at, pulled_at)
        for manifest_id, (digest, created_at, pulled_at, states) in found.items()
    ]


def untagged_candidates(conn: Connection, repository_id: int, *, created_before: int) -> list[Candidate]:
    """The repository's untagged artifacts (not accessories, not listed by an index) stored before
    ``created_before``: younger ones may be the platform manifests of an index still being pushed."""
    rows = conn.execute(
        select(manifests.c.id, manifests.c.digest, manifests.c.created_at, manifests.c.last_pulled_at)
        .where(
            manifests.c.repository_id == repository_id,
            is_artifact(manifests),
            manifests.c.created_at < created_before,
            not_(exists().where(tags.c.manifest_id == manifests.c.id)),
        )
        .order_by(manifests.c.id)
    )
    return [Candidate(int(r[0]), str(r[1]), (), int(r[2]), None if r[3] is None else int(r[3])) for r in rows]


def lock_tag(conn: Connection, repository_id: int, name: str) -> TagState | None:
    """A tag's row as it is now, locked until the transaction ends (PostgreSQL)."""
    query = select(tags.c.id, tags.c.manifest_id, tags.c.updated_at).where(
        tags.c.repository_id == repository_id, tags.c.name == name
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return TagState(name, int(row[0]), int(row[1]), int(row[2])) if row else None


def lock_manifest(conn: Connection, repository_id: int, manifest_id: int) -> str | None:
    """The digest of a manifest of the repository, its row locked until the transaction ends
    (PostgreSQL: a transaction that points a new tag at it waits, and is then refused); None when
    it is gone."""
    query = select(manifests.c.digest).where(manifests.c.id == manifest_id, manifests.c.repository_id == repository_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def tags_of_manifest(conn: Connection, manifest_id: int, *, lock: bool) -> list[TagState]:
    """Every tag naming a manifest (``lock``: their rows locked on PostgreSQL)."""
    query = select(tags.c.name, tags.c.id, tags.c.updated_at).where(tags.c.manifest_id == manifest_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return [TagState(str(r[0]), int(r[1]), manifest_id, int(r[2])) for r in conn.execute(query.order_by(tags.c.id))]


def manifest_id_of(conn: Connection, repository_id: int, digest: str) -> int | None:
    """The id of a manifest of the repository by digest."""
    found = conn.execute(
        select(manifests.c.id).where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
    ).scalar()
    return None if found is None else int(found)


def listed_by_an_index(conn: Connection, repository_id: int, digest: str) -> bool:
    """Whether a manifest (index) of the repository lists ``digest``: such a manifest stays while its
    index does."""
    parents = select(manifests.c.id).where(manifests.c.repository_id == repository_id)
    return (
        conn.execute(
            select(func.count())
            .select_from(manifest_references)
            .where(
                manifest_references.c.kind == "manifest",
                manifest_references.c.digest == digest,
                manifest_references.c.manifest_id.in_(parents),
            )
        ).scalar_one()
        > 0
    )


def children(conn: Connection, manifest_id: int) -> list[str]:
    """The digests an index lists."""
    rows = conn.execute(
        select(manifest_references.c.digest)
        .where(manifest_references.c.manifest_id == manifest_id, manifest_references.c.kind == "manifest")
        .order_by(manifest_references.c.position)
    )
    return [str(r[0]) for r in rows]
