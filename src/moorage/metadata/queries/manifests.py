"""Manifests, their references, their tags, and the subject index the referrers API reads
(PostgreSQL's one-statement pushes are in ``manifest_push``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.errors import Conflict
from moorage.domain.manifests import ParsedManifest
from moorage.domain.registry import ManifestRecord, ReferrerRecord
from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
)
from moorage.metadata.upsert import insert_ignore

TAG_WRITE_ATTEMPTS = 3
"""How often a tag write tries again when a concurrent delete took the row it was about to move."""

_META = (
    manifests.c.id,
    manifests.c.digest,
    manifests.c.media_type,
    func.length(manifests.c.payload).label("size"),
)
_TAIL = (manifests.c.subject_digest, manifests.c.artifact_type)

# Prebuilt for the manifest PUT path (see moorage.metadata.upsert on why).
_MANIFEST_ID = select(manifests.c.id).where(
    manifests.c.repository_id == bindparam("in_repository"), manifests.c.digest == bindparam("of_digest")
)
_MOVE_TAG = update(tags).where(tags.c.repository_id == bindparam("in_repository"), tags.c.name == bindparam("tag_name"))
_TOUCH = (
    update(repositories)
    .where(repositories.c.id == bindparam("repository"))
    .values(tag_count=repositories.c.tag_count + bindparam("tag_delta"), updated_at=bindparam("now"))
)

_NEW_MANIFEST = {
    name: dialect.insert(manifests)
    .on_conflict_do_nothing(index_elements=[manifests.c.repository_id, manifests.c.digest])
    .returning(manifests.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""A new manifest's row, answering its id (nothing when a concurrent push stored it first)."""
_INSERT_REFERENCES = {
    name: dialect.insert(manifest_references).on_conflict_do_nothing(
        index_elements=[manifest_references.c.manifest_id, manifest_references.c.position]
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""A new manifest's references, built once (a statement built per push cost more than its insert)."""

_INSERT_COUNTED = text(
    "WITH inserted AS (INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at) "
    "VALUES (:repository_id, :name, :manifest_id, :created_at, :updated_at) "
    "ON CONFLICT (repository_id, name) DO NOTHING RETURNING repository_id) "
    "UPDATE repositories SET tag_count = repositories.tag_count + 1, updated_at = :updated_at "
    "FROM inserted WHERE repositories.id = inserted.repository_id RETURNING repositories.id"
)
"""PostgreSQL: a new tag and its repository's counter in one statement (one round trip where there
were two); nothing happens when the tag exists."""


def _insert_tag(conn: Connection, repository_id: int, row: dict[str, object]) -> bool:
    """Insert a tag row unless the tag exists, counting it in its repository; whether it inserted."""
    if conn.dialect.name == "postgresql":
        return conn.execute(_INSERT_COUNTED, row).first() is not None
    if insert_ignore(conn, tags, row, conflict=["repository_id", "name"]):
        _touch(conn, repository_id, tag_delta=1)
        return True
    return False


def _record(row: Sequence[object], payload: bytes = b"") -> ManifestRecord:
    mid, digest, media_type, size, subject, artifact_type = row[:6]
    return ManifestRecord(
        int(mid),  # type: ignore[call-overload]
        str(digest),
        str(media_type),
        int(size),  # type: ignore[call-overload]
        payload,
        subject if subject is None else str(subject),
        str(artifact_type),
    )


def by_digest(conn: Connection, repository_id: int, digest: str, *, with_payload: bool) -> ManifestRecord | None:
    """A manifest of the repository by digest."""
    columns = (*_META, *_TAIL, *((manifests.c.payload,) if with_payload else ()))
    row = (
        conn.execute(select(*columns).where(manifests.c.repository_id == repository_id, manifests.c.digest == digest))
    ).first()
    if row is None:
        return None
    return _record(row, bytes(row[6]) if with_payload else b"")


def by_tag(conn: Connection, repository_id: int, tag: str, *, with_payload: bool) -> ManifestRecord | None:
    """The manifest a tag points at."""
    columns = (*_META, *_TAIL, *((manifests.c.payload,) if with_payload else ()))
    row = (
        conn.execute(
            select(*columns)
            .select_from(tags.join(manifests, tags.c.manifest_id == manifests.c.id))
            .where(tags.c.repository_id == repository_id, tags.c.name == tag)
        )
    ).first()
    if row is None:
        return None
    return _record(row, bytes(row[6]) if with_payload else b"")


def _lookup_statement(by_digest: bool, with_payload: bool) -> Select[Any]:
    columns = (*_META, *_TAIL, *((manifests.c.payload,) if with_payload else ()), repositories.c.id)
    if by_digest:
        source = repositories.join(manifests, manifests.c.repository_id == repositories.c.id)
        condition = manifests.c.digest == bindparam("reference")
    else:
        source = repositories.join(tags, tags.c.repository_id == repositories.c.id).join(
            manifests, tags.c.manifest_id == manifests.c.id
        )
        condition = tags.c.name == bindparam("reference")
    return (
        select(*columns)
        .select_from(source)
        .where(
            repositories.c.instance_id == bindparam("instance_id"),
            repositories.c.full_name == bindparam("full_name"),
            condition,
        )
    )


# Built once: the statement of the registry's hottest read costs nothing to construct per request.
_LOOKUPS = {(d, p): _lookup_statement(d, p) for d in (True, False) for p in (True, False)}


def lookup(
    conn: Connection, instance_id: str, full_name: str, *, digest: str | None, tag: str | None, with_payload: bool
) -> tuple[ManifestRecord, int] | None:
    """(the manifest a digest or tag names in the repository called ``full_name``, the repository's
    id), in one query: the registry's hottest read."""
    statement = _LOOKUPS[(digest is not None, with_payload)]
    row = direct.run(
        conn,
        statement,
        {"instance_id": instance_id, "full_name": full_name, "reference": digest if digest is not None else tag},
    ).first()
    if row is None:
        return None
    return _record(row, bytes(row[6]) if with_payload else b""), int(row[-1])


def store(conn: Connection, repository_id: int, digest: str, payload: bytes, parsed: ParsedManifest) -> int:
    """Record a manifest and what it references (idempotent); return its id."""
    known = conn.execute(_MANIFEST_ID, {"in_repository": repository_id, "of_digest": digest}).scalar()
    if known is not None:  # pushed before (a re-push, a new tag of the same image)
        return int(known)
    return store_new(conn, repository_id, digest, payload, parsed)


def manifest_row(repository_id: int, digest: str, payload: bytes, parsed: ParsedManifest) -> dict[str, Any]:
    """A new manifest's row: ``store_new`` inserts it, ``manifest_push.push_alone`` hands it to the
    PostgreSQL function."""
    return {
        "repository_id": repository_id,
        "digest": digest,
        "media_type": parsed.media_type,
        "artifact_type": parsed.artifact_type,
        "subject_digest": str(parsed.subject.digest) if parsed.subject else None,
        "config_digest": str(parsed.config.digest) if parsed.config else None,
        "payload": payload,
        "total_size": len(payload) + parsed.total_size(),
        "annotations": json.dumps(parsed.annotations, sort_keys=True) if parsed.annotations else "",
        "created_at": now_ms(),
    }


def reference_rows(manifest_id: int, parsed: ParsedManifest) -> list[dict[str, Any]]:
    """A new manifest's references, in its order (shared like ``manifest_row``)."""
    descriptors = [("config", parsed.config)] if parsed.config else []
    descriptors += [("layer", d) for d in parsed.layers] + [("manifest", d) for d in parsed.manifests]
    return [
        {
            "manifest_id": manifest_id,
            "position": position,
            "kind": kind,
            "digest": str(d.digest),
            "media_type": d.media_type,
            "size": d.size,
            "platform": json.dumps(d.platform.to_json(), sort_keys=True) if d.platform else "",
        }
        for position, (kind, d) in enumerate(descriptors)
    ]


def store_new(conn: Connection, repository_id: int, digest: str, payload: bytes, parsed: ParsedManifest) -> int:
    """``store`` for a manifest the caller found missing a moment ago (in this transaction): its
    insert, without a lookup first; a concurrent push that stored it since wins, and its id is read."""
    key = {"in_repository": repository_id, "of_digest": digest}
    new_id = direct.run(
        conn, _NEW_MANIFEST[conn.dialect.name], manifest_row(repository_id, digest, payload, parsed)
    ).scalar()
    # None: a concurrent push of the same manifest won the insert; read the id it committed.
    manifest_id = int(new_id) if new_id is not None else int(direct.run(conn, _MANIFEST_ID, key).one()[0])
    if new_id is not None:
        direct.run_many(conn, _INSERT_REFERENCES[conn.dialect.name], reference_rows(manifest_id, parsed))
    return manifest_id


_PUSH_STATE = union_all(
    select(literal_column("'b'").label("kind"), blobs.c.digest, blobs.c.size)
    .select_from(repository_blobs.join(blobs, repository_blobs.c.digest == blobs.c.digest))
    .where(
        repository_blobs.c.repository_id == bindparam("in_repository"),
        repository_blobs.c.digest.in_(bindparam("blob_digests", expanding=True)),
    ),
    select(literal_column("'m'"), manifests.c.digest, manifests.c.id).where(
        manifests.c.repository_id == bindparam("in_repository"),
        manifests.c.digest.in_(bindparam("manifest_digests", expanding=True)),
    ),
)
"""What a manifest PUT reads before it writes, in one statement where there were up to three: the
sizes of the blobs it references that the repository links, which of its child manifests the
repository holds, and its own id if it is stored already."""


def push_state(
    conn: Connection, repository_id: int, digest: str, blob_digests: Sequence[str], children: Sequence[str]
) -> tuple[dict[str, int], set[str], int | None]:
    """(sizes of those of ``blob_digests`` the repository links, those of ``children`` that are its
    manifests, the id of its manifest ``digest`` or None)."""
    rows = direct.run(
        conn,
        _PUSH_STATE,
        {
            "in_repository": repository_id,
            "blob_digests": sorted(set(blob_digests)),
            "manifest_digests": sorted({digest, *children}),
        },
    )
    sizes: dict[str, int] = {}
    found: dict[str, int] = {}
    for kind, row_digest, value in rows:
        (sizes if kind == "b" else found)[row_digest] = int(value)
    return sizes, set(found) & set(children), found.get(digest)


def tag(conn: Connection, repository_id: int, name: str, manifest_id: int) -> None:
    """Point ``name`` at a manifest (creating or moving the tag); keeps the tag counter true even
    when concurrent pushes race for the same tag (only the insert that wins counts). A tag deleted by
    a concurrent transaction between the insert (which found it) and the move (which waited for that
    transaction and then found nothing: PostgreSQL) is inserted again, so the push never reports a
    tag it did not keep."""
    now = now_ms()
    row = {
        "repository_id": repository_id,
        "name": name,
        "manifest_id": manifest_id,
        "created_at": now,
        "updated_at": now,
    }
    for _attempt in range(TAG_WRITE_ATTEMPTS):
        if _insert_tag(conn, repository_id, row):
            return
        moved = conn.execute(
            _MOVE_TAG, {"in_repository": repository_id, "tag_name": name, "manifest_id": manifest_id, "updated_at": now}
        )
        if moved.rowcount:
            _touch(conn, repository_id, tag_delta=0)
            return
    raise Conflict(f"tag {name!r} kept being deleted while it was written; push it again", reason="tag_conflict")


def tag_once(conn: Connection, repository_id: int, name: str, manifest_id: int) -> bool:
    """Point ``name`` at a manifest unless it already names another one (an immutable tag): True when
    the tag now names ``manifest_id``. The insert decides between concurrent pushes of a new tag
    (the loser finds the winner's row, on PostgreSQL after the winner committed), and an existing tag
    is read under its row lock, so the tag never moves."""
    now = now_ms()
    if _insert_tag(
        conn,
        repository_id,
        {
            "repository_id": repository_id,
            "name": name,
            "manifest_id": manifest_id,
            "created_at": now,
            "updated_at": now,
        },
    ):
        return True
    current = select(tags.c.manifest_id).where(tags.c.repository_id == repository_id, tags.c.name == name)
    if conn.dialect.name == "postgresql":
        current = current.with_for_update()
    return conn.execute(current).scalar() == manifest_id


def untag(conn: Connection, repository_id: int, name: str) -> bool:
    """Delete a tag (the manifest stays). True if it existed."""
    result = conn.execute(delete(tags).where(tags.c.repository_id == repository_id, tags.c.name == name))
    if result.rowcount:
        _touch(conn, repository_id, tag_delta=-int(result.rowcount))
    return bool(result.rowcount)


def remove(conn: Connection, repository_id: int, digest: str) -> bool:
    """Delete a manifest and every tag pointing at it. True if it existed."""
    manifest_id = (
        conn.execute(
            select(manifests.c.id).where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
        )
    ).scalar()
    if manifest_id is None:
        return False
    removed_tags = conn.execute(delete(tags).where(tags.c.manifest_id == manifest_id))
    conn.execute(delete(manifest_references).where(manifest_references.c.manifest_id == manifest_id))
    conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
    _touch(conn, repository_id, tag_delta=-int(removed_tags.rowcount or 0))
    return True


def _touch(conn: Connection, repository_id: int, *, tag_delta: int) -> None:
    direct.run(conn, _TOUCH, {"repository": repository_id, "tag_delta": tag_delta, "now": now_ms()})


def _tag_page(dialect: str, after: bool) -> Select[Any]:
    name = tags.c.name.collate("C") if dialect == "postgresql" else tags.c.name  # as ``bytewise``
    query = select(tags.c.name).where(tags.c.repository_id == bindparam("in_repository"))
    if after:
        query = query.where(name > bindparam("after"))
    return query.order_by(name).limit(bindparam("limit", type_=Integer))


_TAG_PAGES = {(d, after): _tag_page(d, after) for d in ("sqlite", "postgresql") for after in (False, True)}
"""Built once and run on the driver (``direct``): a whole list of 10,000 tags spent 4.5 of its 10.3 ms in
SQLAlchemy's row objects."""


def tag_names(conn: Connection, repository_id: int, *, limit: int, last: str | None) -> list[str]:
    """Tags in lexical order after ``last``."""
    params: dict[str, Any] = {"in_repository": repository_id, "limit": limit}
    if last:
        params["after"] = last
    rows = direct.run(conn, _TAG_PAGES[(conn.dialect.name, bool(last))], params)
    return [r[0] for r in rows]


def referrers(conn: Connection, repository_id: int, subject: str, *, artifact_type: str | None) -> list[ReferrerRecord]:
    """Manifests whose subject is ``subject``, oldest first."""
    conditions = [manifests.c.repository_id == repository_id, manifests.c.subject_digest == subject]
    if artifact_type:
        conditions.append(manifests.c.artifact_type == artifact_type)
    rows = conn.execute(
        select(
            manifests.c.digest,
            manifests.c.media_type,
            func.length(manifests.c.payload),
            manifests.c.artifact_type,
            manifests.c.annotations,
        )
        .where(and_(*conditions))
        .order_by(manifests.c.created_at, manifests.c.id)
    )
    return [ReferrerRecord(r[0], r[1], int(r[2]), r[3], load_document(r[4]) if r[4] else {}) for r in rows]
