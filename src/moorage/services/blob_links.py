"""Linking a stored blob to a repository: shared by uploads (a blob received) and mounts (a blob
another repository of the account already holds)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from moorage.domain.digests import Digest
from moorage.domain.registry import UploadTarget
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import gc as gc_queries
from moorage.metadata.queries import repositories as repo_queries
from moorage.services.quotas import QuotaService
from moorage.storage.blobstore import BlobStore


def quick_link(store: BlobStore, digest: Digest) -> bool:
    """Whether the blob's link may be written on the event loop (``Database.write(quick=True)``):
    when its bytes are a local file, which ``secure_blob`` looks at right there; a store reached
    through the loop would send the write to a thread after a first try."""
    return store.local_path(digest) is not None


def link_blob(
    conn: Connection, target: UploadTarget, digest: str, size: int, *, quotas: QuotaService | None = None
) -> None:
    """Record a stored blob and let the target repository serve it, creating the repository (and its
    namespace) on its first content, all in the caller's transaction, which holds the garbage
    collector's fence already (``gc_queries.writer_fence``, taken before the caller made sure the
    bytes are stored, see ``moorage.services.lifecycle``; a repository-count quota of ``quotas`` may
    refuse the creation). An existing repository is found and linked in one statement on PostgreSQL."""
    new = blob_queries.add_and_link(conn, target.instance_id, str(target.name), digest, size)
    if new is None:  # the repository's first content
        if quotas is not None:
            repository = quotas.ensure_repository_in(conn, target)
        else:
            repository = repo_queries.ensure(conn, target.instance_id, target.name, domain_id=target.domain_id)
        new = blob_queries.add(conn, digest, size)
        blob_queries.link(conn, repository.id, digest, size, namespace_id=repository.namespace_id)
    if not new:  # a row that was there already is touched now and not being deleted any more
        gc_queries.revive(conn, digest)
