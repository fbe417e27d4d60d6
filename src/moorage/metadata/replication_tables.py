"""Enterprise Edition replication's tables (migration 0016): registries (credentials sealed with the
master key), policies, and the executions, tasks (one per artifact) and subtasks (one per manifest
or blob) of their runs. Kept apart from ``tables.py`` (imported at its end, on the same
``metadata``). docs/replication-policies.md explains them."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import DIGEST, Id, metadata

replication_registries = Table(
    "replication_registries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(1024), nullable=False, server_default=""),
    Column("type", String(32), nullable=False),
    Column("url", String(512), nullable=False),
    Column("username", String(255), nullable=False, server_default=""),
    # the password sealed with the master key, bound to the registry's id ("" without one)
    Column("password", Text, nullable=False, server_default=""),
    Column("insecure", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="healthy"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("instance_id", "name", name="uq_replication_registries_instance_name"),
)

replication_policies = Table(
    "replication_policies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", String(1024), nullable=False, server_default=""),
    # None: this instance. A registry in use by a policy cannot be deleted (the service checks).
    Column("src_registry_id", Id, ForeignKey("replication_registries.id"), nullable=True),
    Column("dest_registry_id", Id, ForeignKey("replication_registries.id"), nullable=True),
    Column("dest_namespace", String(255), nullable=False, server_default=""),
    Column("dest_namespace_replace_count", Integer, nullable=False, server_default="-1"),
    Column("filters", Text, nullable=False, server_default="[]"),
    Column("repo_scope_mode", String(16), nullable=False, server_default="regular"),
    Column("trigger", Text, nullable=False),
    Column("override", Boolean, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("replicate_deletion", Boolean, nullable=False, server_default="0"),
    Column("speed_kb", Integer, nullable=False, server_default="-1"),
    Column("copy_by_chunk", Boolean, nullable=False, server_default="0"),
    Column("last_scheduled_at", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("instance_id", "name", name="uq_replication_policies_instance_name"),
)

replication_executions = Table(
    "replication_executions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("policy_id", Id, ForeignKey("replication_policies.id", ondelete="CASCADE"), nullable=False),
    Column("instance_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("trigger", String(16), nullable=False),
    # what an event-based run is about: {"repository", "tag", "digest", "deleted"}; "{}" for a full run
    Column("scope", Text, nullable=False, server_default="{}"),
    Column("job_id", String(32), nullable=True),
    Column("dedupe_key", String(128), nullable=True, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
)
Index("ix_replication_executions_policy", replication_executions.c.policy_id, replication_executions.c.id)
Index("ix_replication_executions_instance", replication_executions.c.instance_id, replication_executions.c.id)

replication_tasks = Table(
    "replication_tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("execution_id", Id, ForeignKey("replication_executions.id", ondelete="CASCADE"), nullable=False),
    Column("resource_type", String(16), nullable=False, server_default="artifact"),
    Column("src_resource", String(512), nullable=False),
    Column("dst_resource", String(512), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("status_revision", Integer, nullable=False, server_default="0"),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_replication_tasks_execution", replication_tasks.c.execution_id, replication_tasks.c.status)

replication_subtasks = Table(
    "replication_subtasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("replication_tasks.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", Id, nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("namespace", String(255), nullable=False),
    Column("repository", String(255), nullable=False),
    Column("tag", String(128), nullable=False, server_default=""),
    Column("digest", DIGEST, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_replication_subtasks_task_status", replication_subtasks.c.task_id, replication_subtasks.c.status)
Index("ix_replication_subtasks_execution_status", replication_subtasks.c.execution_id, replication_subtasks.c.status)
