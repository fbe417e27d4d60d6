"""Image synchronisation's tables (migration 0015): the rules of a repository (which peer, which
namespace there, automatic or not) and the sync jobs (one tag to one peer each).

Kept apart from ``tables.py`` (imported at its end, on the same ``metadata``). docs/replication.md
explains the design."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import NAME, Id, metadata

image_sync_rules = Table(
    "image_sync_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("domain_id", String(64), nullable=False, server_default=""),
    Column("domain_name", NAME, nullable=False, server_default=""),
    Column("remote_region_id", String(64), nullable=False),
    Column("remote_namespace", String(64), nullable=False),
    Column("sync_auto", Boolean, nullable=False, server_default="0"),
    Column("override", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("repository_id", "remote_region_id", "remote_namespace", name="uq_image_sync_rules_target"),
)

image_sync_jobs = Table(
    "image_sync_jobs",
    metadata,
    # One tag of a repository copied to one peer; ``job_id`` is the job row that runs it. Kept when
    # the rule goes (ShowSyncJob still lists it), removed with the repository.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("domain_id", String(64), nullable=False, server_default=""),
    Column("domain_name", NAME, nullable=False, server_default=""),
    Column("tag", String(128), nullable=False),
    Column("remote_region_id", String(64), nullable=False),
    Column("remote_namespace", String(64), nullable=False),
    Column("override", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("operator_id", String(64), nullable=False, server_default=""),
    Column("operator_name", NAME, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("job_id", String(64), nullable=False, server_default=""),
    Column("event_id", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # An automatic job is made once per (event, rule target): a dispatcher that runs a batch again
    # after a crash finds it there.
    UniqueConstraint(
        "event_id", "repository_id", "remote_region_id", "remote_namespace", name="uq_image_sync_jobs_event"
    ),
    Index("ix_image_sync_jobs_repository", "repository_id", "id"),
)
