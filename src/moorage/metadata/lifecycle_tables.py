"""The lifecycle's tables: garbage collection's runs, logs and schedules, quota reservations and
namespace storage, Enterprise immutable tag rules, and retention (the shared edition's retentions
and logs, Enterprise retention policies and the executions, tasks and subtasks of their runs). Kept
apart from ``tables.py`` (imported at its end, on the same ``metadata``; re-exported there, so
queries import every table from ``tables``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import DIGEST, Id, metadata

# Garbage collection (0011) -------------------------------------------------------------------------
# Runs of the collector (the whole registry's, ``instance_id`` NULL, or one Enterprise Edition
# instance's), their logs, and each instance's schedule (the whole registry's comes from settings).

gc_runs = Table(
    "gc_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=True),
    Column("trigger", String(16), nullable=False),  # MANUAL | SCHEDULE
    Column("status", String(16), nullable=False),  # Pending | Running | Success | Error | Stopped
    Column("delete_untagged", Boolean, nullable=False, server_default="0"),
    Column("workers", Integer, nullable=False, server_default="1"),
    Column("dry_run", Boolean, nullable=False, server_default="0"),
    Column("figures", Text, nullable=False, server_default="{}"),  # GcFigures as JSON
    Column("job_id", String(32), nullable=True),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("stop_requested", Boolean, nullable=False, server_default="0"),
    Column("log_lines", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
)
Index("ix_gc_runs_instance", gc_runs.c.instance_id, gc_runs.c.id)
Index("ix_gc_runs_status", gc_runs.c.status)

gc_run_logs = Table(
    "gc_run_logs",
    metadata,
    Column("run_id", Id, ForeignKey("gc_runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", BigInteger, nullable=False),
    Column("level", String(8), nullable=False),
    Column("message", Text, nullable=False),
)

gc_schedules = Table(
    "gc_schedules",
    metadata,
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("type", String(16), nullable=False),  # None | Custom
    Column("cron", String(128), nullable=False, server_default=""),
    Column("delete_untagged", Boolean, nullable=False, server_default="0"),
    Column("workers", Integer, nullable=False, server_default="1"),
    Column("dry_run", Boolean, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)

quota_reservations = Table(
    "quota_reservations",
    metadata,
    # Bytes an upload in progress may write (the id of its upload session, or of a monolithic upload):
    # they count toward the storage quotas of the organization and account the blob will be charged to
    # until the blob is linked or the upload ends (services/quotas.py). ``expires_at`` frees what a
    # killed process left.
    Column("id", String(32), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace", String(64), nullable=False),
    Column("domain_id", String(64), nullable=False, server_default=""),
    Column("bytes", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_quota_reservations_namespace", quota_reservations.c.instance_id, quota_reservations.c.namespace)
Index("ix_quota_reservations_domain", quota_reservations.c.instance_id, quota_reservations.c.domain_id)
Index("ix_quota_reservations_expires_at", quota_reservations.c.expires_at)

ee_immutable_rules = Table(
    "ee_immutable_rules",
    metadata,
    # Immutable tag rules of an Enterprise Edition namespace: a tag they cover is pushed once, never
    # moved to another manifest nor deleted (services/enterprise/immutability.py). Selectors as the
    # API's JSON: a list of tag selectors, and {"repository": [...]}.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("disabled", Boolean, nullable=False, server_default="0"),
    Column("action", String(32), nullable=False, server_default="immutable"),
    Column("template", String(64), nullable=False, server_default="immutable_template"),
    Column("tag_selectors", Text, nullable=False),
    Column("scope_selectors", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_ee_immutable_rules_instance", ee_immutable_rules.c.instance_id, ee_immutable_rules.c.id)
Index("ix_ee_immutable_rules_namespace", ee_immutable_rules.c.namespace_id)

namespace_blobs = Table(
    "namespace_blobs",
    metadata,
    # The distinct blobs an organization's repositories link, with how many of its repositories link
    # each: what the storage quotas and the usage figures count (queries/namespace_usage.py keeps it
    # in step with repository_blobs on every link and unlink).
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("links", Integer, nullable=False),
)

namespace_storage = Table(
    "namespace_storage",
    metadata,
    # The sum of an organization's ``namespace_blobs`` sizes, kept as a counter: one row read per quota
    # decision, whatever the organization's size.
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("stored_bytes", BigInteger, nullable=False, server_default="0"),
)

# Retention (0013) ---------------------------------------------------------------------------------
# The shared edition's retentions (one per repository, rules as the API's JSON) and the log of the
# tags they deleted; the Enterprise Edition's retention policies with their executions, tasks (one
# per repository) and subtasks (one per artifact to delete, with the decision the deletion re-checks).

retentions = Table(
    "retentions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("algorithm", String(8), nullable=False, server_default="or"),
    Column("rules", Text, nullable=False),
    Column("last_scheduled_at", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("repository_id", name="uq_retentions_repository_id"),
)

retention_logs = Table(
    "retention_logs",
    metadata,
    # One row per tag a retention deleted; kept with the repository (not the retention), so the log
    # outlives a retention that is deleted or replaced.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("retention_id", Id, nullable=False),
    Column("namespace", String(64), nullable=False),
    Column("repository", String(128), nullable=False),
    Column("tag", String(128), nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("rule_type", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_retention_logs_repository", retention_logs.c.repository_id, retention_logs.c.id)

ee_retention_policies = Table(
    "ee_retention_policies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("algorithm", String(8), nullable=False, server_default="or"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("trigger", Text, nullable=False),
    Column("rules", Text, nullable=False),
    Column("last_scheduled_at", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("namespace_id", "name", name="uq_ee_retention_policies_namespace_name"),
)
Index("ix_ee_retention_policies_instance", ee_retention_policies.c.instance_id, ee_retention_policies.c.id)

ee_retention_executions = Table(
    "ee_retention_executions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("policy_id", Id, ForeignKey("ee_retention_policies.id", ondelete="CASCADE"), nullable=False),
    Column("dry_run", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("trigger", String(16), nullable=False),  # manual | scheduled
    Column("job_id", String(32), nullable=True),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)
Index("ix_ee_retention_executions_policy", ee_retention_executions.c.policy_id, ee_retention_executions.c.id)

ee_retention_tasks = Table(
    "ee_retention_tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("execution_id", Id, ForeignKey("ee_retention_executions.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("repository_id", Id, nullable=False),  # no foreign key: the record outlives the repository
    Column("namespace", String(64), nullable=False),
    Column("repository", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("retained", Integer, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    UniqueConstraint("execution_id", "repository", name="uq_ee_retention_tasks_execution_repository"),
)

ee_retention_subtasks = Table(
    "ee_retention_subtasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("ee_retention_tasks.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", Id, nullable=False),
    Column("namespace", String(64), nullable=False),
    Column("repository", String(200), nullable=False),
    Column("tags", Text, nullable=False),  # comma-separated; empty for an untagged artifact
    Column("digest", DIGEST, nullable=False),
    # What the run decided on: {"manifest_id": id, "tags": {name: push time}}; the deletion goes ahead
    # only while the artifact's tags are still exactly these, pushed at these times.
    Column("decision", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index(
    "ix_ee_retention_subtasks_task_status",
    ee_retention_subtasks.c.task_id,
    ee_retention_subtasks.c.status,
    ee_retention_subtasks.c.id,
)
Index("ix_ee_retention_subtasks_execution_status", ee_retention_subtasks.c.execution_id, ee_retention_subtasks.c.status)
