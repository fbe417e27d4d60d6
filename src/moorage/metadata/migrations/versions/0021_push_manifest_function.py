"""PostgreSQL: ``moorage_push_manifest``, a manifest PUT as one statement.

The statement runs in autocommit mode, so a push into an existing repository is one round trip to the
server where it took four (a new tag of a stored manifest: BEGIN, the collector's fence with the
repository, the checks with the tag, COMMIT) to eight (a new manifest: its row and its references
too). A function is what makes it one statement and keeps it correct: the collector's fence must be
held before the reads of what the collector deletes, and a statement's snapshot is taken before it
runs; each statement of a PL/pgSQL function takes its own, after the ones before it (READ COMMITTED).

It writes nothing unless every referenced blob is linked with its descriptor's size and every child
manifest is held. Then it stores the manifest and its references unless stored (a concurrent push
that stored it first wins, as on the general path), points the tag at it (the tag's row, then the
repository's counter: the lock order of every tag write) and inserts the event. It answers the
repository's row (no row: there is no such repository, and the caller creates it on the general path),
whether the references passed (the caller finds which is missing on the general path), and the
manifest's id.

The manifest, its references and the event come as JSON in the shape of their tables' rows (the
payload as bytes); the event's account is the namespace's, as the general path records it. A
migration that adds a column to ``manifests``, ``manifest_references`` or ``events`` must replace this
function with one that inserts it too (``tests/services/test_manifest_push_statements.py`` checks the
lists). SQLite: nothing (a push there is one process's transaction, with no round trips to save).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

MANIFEST_COLUMNS = (
    "digest, media_type, artifact_type, subject_digest, config_digest, total_size, annotations, created_at"
)
REFERENCE_COLUMNS = "position, kind, digest, media_type, size, platform"
EVENT_COLUMNS = (
    "occurred_at, instance_id, operation, resource_type, resource, result, namespace, repository, tag, digest, "
    "actor_id, actor_name, actor_domain_id, actor_domain_name, actor_via, client_address, detail, dispatched"
)
SIGNATURE = "BIGINT, VARCHAR, VARCHAR, VARCHAR[], BIGINT[], VARCHAR[], VARCHAR, BIGINT, JSONB, BYTEA, JSONB, JSONB"


def _prefixed(columns: str, alias: str) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns.split(", "))


FUNCTION = f"""
CREATE OR REPLACE FUNCTION moorage_push_manifest(
    p_fence BIGINT, p_instance VARCHAR, p_repository VARCHAR,
    p_blob_digests VARCHAR[], p_blob_sizes BIGINT[], p_children VARCHAR[], p_tag VARCHAR, p_now BIGINT,
    p_manifest JSONB, p_payload BYTEA, p_references JSONB, p_event JSONB
) RETURNS TABLE (
    id BIGINT, instance_id VARCHAR, namespace_id BIGINT, namespace VARCHAR, name VARCHAR,
    is_public BOOLEAN, domain_id VARCHAR, passed BOOLEAN, manifest_id BIGINT
) LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
    repo RECORD;
    checks_passed BOOLEAN;
    stored BIGINT;
    tag_inserted BOOLEAN;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(p_fence);
    SELECT r.id, r.instance_id, r.namespace_id, n.name AS namespace, r.name, r.is_public, n.domain_id
        INTO repo
        FROM repositories r JOIN namespaces n ON r.namespace_id = n.id
        WHERE r.instance_id = p_instance AND r.full_name = p_repository;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT
        (SELECT count(*) FROM unnest(p_blob_digests, p_blob_sizes) AS w(digest, size)
         JOIN repository_blobs rb ON rb.repository_id = repo.id AND rb.digest = w.digest
         JOIN blobs b ON b.digest = w.digest AND b.size = w.size) = cardinality(p_blob_digests)
        AND (SELECT count(*) FROM manifests m
             WHERE m.repository_id = repo.id AND m.digest = ANY(p_children)) = cardinality(p_children)
        INTO checks_passed;
    IF checks_passed THEN
        SELECT m.id INTO stored FROM manifests m
            WHERE m.repository_id = repo.id AND m.digest = p_manifest->>'digest';
        IF stored IS NULL THEN
            INSERT INTO manifests (repository_id, payload, {MANIFEST_COLUMNS})
                SELECT repo.id, p_payload, {_prefixed(MANIFEST_COLUMNS, "m")}
                FROM jsonb_populate_record(NULL::manifests, p_manifest) AS m
                ON CONFLICT (repository_id, digest) DO NOTHING
                RETURNING manifests.id INTO stored;
            IF stored IS NULL THEN  -- a concurrent push stored it first: its row
                SELECT m.id INTO stored FROM manifests m
                    WHERE m.repository_id = repo.id AND m.digest = p_manifest->>'digest';
            ELSE
                INSERT INTO manifest_references (manifest_id, {REFERENCE_COLUMNS})
                    SELECT stored, {_prefixed(REFERENCE_COLUMNS, "r")}
                    FROM jsonb_populate_recordset(NULL::manifest_references, p_references) AS r
                    ON CONFLICT (manifest_id, position) DO NOTHING;
            END IF;
        END IF;
        IF p_tag IS NOT NULL THEN
            INSERT INTO tags (repository_id, name, manifest_id, created_at, updated_at)
                VALUES (repo.id, p_tag, stored, p_now, p_now)
                ON CONFLICT (repository_id, name)
                DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
                RETURNING (xmax = 0) INTO tag_inserted;
            UPDATE repositories
                SET tag_count = tag_count + CASE WHEN tag_inserted THEN 1 ELSE 0 END, updated_at = p_now
                WHERE repositories.id = repo.id;
        END IF;
        INSERT INTO events (domain_id, {EVENT_COLUMNS})
            SELECT COALESCE(repo.domain_id, ''), {_prefixed(EVENT_COLUMNS, "e")}
            FROM jsonb_populate_record(NULL::events, p_event) AS e;
    END IF;
    RETURN QUERY SELECT repo.id, repo.instance_id, repo.namespace_id, repo.namespace, repo.name,
        repo.is_public, repo.domain_id, checks_passed, stored;
END
$fn$
"""  # noqa: S608  # built from this module's constants, nothing from outside


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS moorage_push_manifest({SIGNATURE})")
