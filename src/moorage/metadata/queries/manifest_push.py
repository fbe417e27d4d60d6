"""PostgreSQL's one-statement manifest pushes. The general path (``manifests``: a transaction of a
statement per step, on both databases) pays a round trip per step; a push of at most one tag into an
existing repository, on an instance where no immutable rule can cover a tag
(``TagProtection.may_protect``), takes none of its branches (creating the repository, an immutable
tag, several tags), so ``push_alone`` does it in one call of ``moorage_push_manifest`` (migration
0021), a single statement in autocommit (``Database.write_statement``; ``ManifestService._push_alone``
decides when). ``tag_stored`` is the general transaction's one statement for a manifest stored
already whose one tag, if any, is not protected. Both write nothing when a check fails and say so;
the general path then takes the push, stores what is new and names the missing reference."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from moorage.domain.manifests import ParsedManifest
from moorage.domain.registry import Repository
from moorage.metadata import direct
from moorage.metadata.database import now_ms
from moorage.metadata.queries.gc import FENCE_KEY
from moorage.metadata.queries.manifests import manifest_row, reference_rows
from moorage.metadata.tables import events

# PostgreSQL: a push of a manifest the repository holds already (a new tag of a pushed image, a
# retried push), as one statement where there were five: the reference checks (every blob linked
# with its descriptor's size, every child manifest present), the manifest's id, the tag inserted or
# moved, the repository's tag counter and time, and the pushed event. Nothing is written unless the
# checks pass and the manifest exists; the answer (checks passed, the manifest's id) tells the
# caller what to do otherwise (store a new manifest, or find which reference is missing). The tag
# is an upsert: concurrent pushes of one new tag wait for each other on its unique key and exactly
# one inserts (``xmax = 0`` in RETURNING: the row was inserted, not updated; PostgreSQL's usual
# idiom for it), so the counter counts it once; a tag deleted while another push moves it is
# inserted again by the upsert itself. Locks are taken in the order of the statements this replaces
# (the tag's row, then the repository's: ``tagged`` runs before ``counted``, which reads it); the
# event's insert takes no lock another push waits for. Its caller holds the collector's writer
# fence from an earlier statement, so these reads see every deletion the collector committed.
_TAG_STORED_PG = """
    WITH wanted AS (
        SELECT w.digest, w.size
        FROM unnest(CAST(:blob_digests AS VARCHAR[]), CAST(:blob_sizes AS BIGINT[])) AS w(digest, size)
    ), checked AS (
        SELECT
            (SELECT count(*) FROM wanted
             JOIN repository_blobs ON repository_blobs.repository_id = CAST(:repository AS BIGINT)
                 AND repository_blobs.digest = wanted.digest
             JOIN blobs ON blobs.digest = wanted.digest AND blobs.size = wanted.size)
            = cardinality(CAST(:blob_digests AS VARCHAR[]))
            AND (SELECT count(*) FROM manifests
                 WHERE manifests.repository_id = CAST(:repository AS BIGINT)
                 AND manifests.digest = ANY(CAST(:children AS VARCHAR[])))
            = cardinality(CAST(:children AS VARCHAR[])) AS passed
    ), found AS (
        SELECT manifests.id FROM manifests, checked
        WHERE checked.passed AND manifests.repository_id = CAST(:repository AS BIGINT)
        AND manifests.digest = CAST(:digest AS VARCHAR)
    ), tagged AS (
        INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at)
        SELECT CAST(:repository AS BIGINT), CAST(:tag AS VARCHAR), found.id, CAST(:now AS BIGINT), CAST(:now AS BIGINT)
        FROM found WHERE CAST(:tag AS VARCHAR) IS NOT NULL
        ON CONFLICT (repository_id, name)
        DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
        RETURNING (xmax = 0) AS inserted
    ), counted AS (
        UPDATE repositories
        SET tag_count = repositories.tag_count + CASE WHEN tagged.inserted THEN 1 ELSE 0 END,
            updated_at = CAST(:now AS BIGINT)
        FROM tagged WHERE repositories.id = CAST(:repository AS BIGINT)
        RETURNING repositories.id
    ), recorded AS (
        INSERT INTO events ({columns}) SELECT {values} FROM found
    )
    SELECT checked.passed, (SELECT found.id FROM found) FROM checked
"""
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
_TAG_STORED_STATEMENTS: dict[tuple[str, ...], TextClause] = {}


def _tag_stored_statement(columns: tuple[str, ...]) -> TextClause:
    """The statement for event rows of these columns (built once: every row of ``record_events``
    has the same)."""
    statement = _TAG_STORED_STATEMENTS.get(columns)
    if statement is None:
        types = {c: events.c[c].type.compile(dialect=_POSTGRESQL) for c in columns}
        values = ", ".join(f"CAST(:event_{c} AS {types[c]})" for c in columns)
        statement = text(_TAG_STORED_PG.format(columns=", ".join(columns), values=values))
        _TAG_STORED_STATEMENTS[columns] = statement
    return statement


def _reference_checks(blob_sizes: dict[str, int], children: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of PostgreSQL's reference checks: the blobs and their sizes (in the same order),
    the child manifests."""
    wanted = sorted(blob_sizes)
    return {
        "blob_digests": wanted,
        "blob_sizes": [blob_sizes[d] for d in wanted],
        "children": sorted(set(children)),
    }


def tag_stored(
    conn: Connection,
    repository_id: int,
    digest: str,
    *,
    blob_sizes: dict[str, int],
    children: Sequence[str],
    tag: str | None,
    event: dict[str, Any],
) -> tuple[bool, int | None]:
    """PostgreSQL: tag the stored manifest ``digest`` (no tag: None) and insert the ``event`` row, if
    every blob of ``blob_sizes`` is linked with that size and every manifest of ``children`` is held.
    (whether the references passed, the manifest's id or None): written only when both are true.
    The tag must not be one an immutable rule covers (``tag_once`` decides those)."""
    params: dict[str, Any] = {
        "repository": repository_id,
        "digest": digest,
        **_reference_checks(blob_sizes, children),
        "tag": tag,
        "now": now_ms(),
    }
    params.update({f"event_{c}": v for c, v in event.items()})
    passed, manifest_id = conn.execute(_tag_stored_statement(tuple(event)), params).one()
    return bool(passed), None if manifest_id is None else int(manifest_id)


_PUSH_ALONE = text(
    "SELECT * FROM moorage_push_manifest(CAST(:fence AS BIGINT), CAST(:instance AS VARCHAR), "
    "CAST(:repository AS VARCHAR), CAST(:blob_digests AS VARCHAR[]), CAST(:blob_sizes AS BIGINT[]), "
    "CAST(:children AS VARCHAR[]), CAST(:tag AS VARCHAR), CAST(:now AS BIGINT), CAST(:manifest AS JSONB), "
    "CAST(:payload AS BYTEA), CAST(:references AS JSONB), CAST(:event AS JSONB))"
)


def push_alone(
    conn: Connection,
    instance_id: str,
    repository: str,
    digest: str,
    payload: bytes,
    parsed: ParsedManifest,
    *,
    blob_sizes: dict[str, int],
    children: Sequence[str],
    tag: str | None,
    event: dict[str, Any],
) -> tuple[Repository, int | None] | None:
    """PostgreSQL, as a statement of its own (``Database.write_statement``): a manifest PUT into an
    existing repository with at most one tag that no immutable rule covers, in one round trip (the
    function of migration 0021): the collector's fence, the repository found by its full name, the
    reference checks, the manifest and its references stored unless they are, the tag, its counter and
    the ``event`` row (its account: the namespace's, whatever ``event`` says). None when there is no
    such repository; otherwise (its row, the manifest's id), the id None when a reference is missing
    (nothing was written)."""
    manifest = manifest_row(0, digest, payload, parsed)
    del manifest["repository_id"], manifest["payload"]
    row = direct.run(
        conn,
        _PUSH_ALONE,
        {
            "fence": FENCE_KEY,
            "instance": instance_id,
            "repository": repository,
            **_reference_checks(blob_sizes, children),
            "tag": tag,
            "now": now_ms(),
            "manifest": json.dumps(manifest),
            "payload": payload,
            "references": json.dumps(reference_rows(0, parsed)),
            "event": json.dumps(event),
        },
    ).first()
    if row is None:
        return None
    *columns, passed, manifest_id = row
    return Repository(*columns), int(manifest_id) if passed and manifest_id is not None else None
