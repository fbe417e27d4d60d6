"""Enterprise Edition's instances, their domain names and namespace options, and signing: keys,
signature policies and the executions, tasks and subtasks of their runs (executions, tasks and
subtasks keep their own statuses so listings survive restarts; selectors and triggers are stored as
the JSON the API speaks). Kept apart from ``tables.py`` (imported at its end, on the same
``metadata``; re-exported there, so queries import every table from ``tables``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import DIGEST, Id, metadata

# Enterprise Edition ------------------------------------------------------------------------------
# An Enterprise Edition instance is a row of ``instances`` (its registry: namespaces, repositories)
# plus the management facts below. Signing runs as jobs; executions, tasks and subtasks keep their
# own statuses (Initialized, Pending, InProgress, Succeed, Failed, Stopped) so listings survive
# restarts. Policy selectors and triggers are stored as the JSON the API speaks.

ee_instances = Table(
    "ee_instances",
    metadata,
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("project_id", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(512), nullable=False, server_default=""),
    Column("spec", String(32), nullable=False, server_default="swr.ee.professional"),
    Column("charge_mode", String(32), nullable=False, server_default="postPaid"),
    Column("enterprise_project_id", String(64), nullable=False, server_default="0"),
    Column("status", String(16), nullable=False, server_default="Running"),
    Column("anonymous_access", Boolean, nullable=False, server_default="0"),
    Column("creation_job_id", String(32), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_ee_instances_domain_name"),
)

ee_domain_names = Table(
    "ee_domain_names",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("domain_name", String(255), nullable=False, unique=True),  # host or host:port, lower case
    Column("type", String(16), nullable=False, server_default="custom"),
    Column("certificate_id", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_ee_domain_names_instance", ee_domain_names.c.instance_id)

ee_namespace_options = Table(
    "ee_namespace_options",
    metadata,
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("auto_scan", Boolean, nullable=False, server_default="0"),
    Column("prevent_vul", Boolean, nullable=False, server_default="0"),
    Column("severity", String(16), nullable=False, server_default="low"),
    Column("require_signature", Boolean, nullable=False, server_default="0"),
    Column("cve_allowlist", Text, nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
)

ee_signing_keys = Table(
    "ee_signing_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(255), nullable=False, server_default=""),
    Column("algorithm", String(32), nullable=False),
    Column("public_key", Text, nullable=False),  # PEM (SubjectPublicKeyInfo)
    Column("private_key_encrypted", Text, nullable=False),  # PKCS#8 PEM sealed with the master key
    Column("creator", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("instance_id", "name", name="uq_ee_signing_keys_instance_name"),
)

ee_sign_policies = Table(
    "ee_sign_policies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(512), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("signature_method", String(32), nullable=False),
    Column("signature_algorithm", String(32), nullable=False),
    Column("signature_key", String(32), ForeignKey("ee_signing_keys.id"), nullable=False),
    Column("trigger", Text, nullable=False),
    Column("scope_rules", Text, nullable=False),
    Column("creator", String(64), nullable=False, server_default=""),
    Column("last_scheduled_at", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("namespace_id", "name", name="uq_ee_sign_policies_namespace_name"),
)
Index("ix_ee_sign_policies_instance", ee_sign_policies.c.instance_id, ee_sign_policies.c.id)
Index("ix_ee_sign_policies_key", ee_sign_policies.c.signature_key)

ee_sign_executions = Table(
    "ee_sign_executions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("policy_id", Id, ForeignKey("ee_sign_policies.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("trigger", String(16), nullable=False),  # manual | event_based | scheduled
    Column("job_id", String(32), nullable=True),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("only_repository", String(200), nullable=True),  # an on-push execution signs one tag
    Column("only_tag", String(128), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_ee_sign_executions_policy", ee_sign_executions.c.policy_id, ee_sign_executions.c.id)

ee_sign_tasks = Table(
    "ee_sign_tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("execution_id", Id, ForeignKey("ee_sign_executions.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("namespace", String(64), nullable=False),
    Column("repository", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("execution_id", "repository", name="uq_ee_sign_tasks_execution_repository"),
)

ee_sign_subtasks = Table(
    "ee_sign_subtasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("task_id", Id, ForeignKey("ee_sign_tasks.id", ondelete="CASCADE"), nullable=False),
    Column("execution_id", Id, nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("namespace", String(64), nullable=False),
    Column("repository", String(200), nullable=False),
    Column("tag", String(128), nullable=False),  # empty for an untagged artifact
    Column("digest", DIGEST, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_text", String(1024), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("task_id", "tag", "digest", name="uq_ee_sign_subtasks_task_tag_digest"),
)
Index("ix_ee_sign_subtasks_task_status", ee_sign_subtasks.c.task_id, ee_sign_subtasks.c.status, ee_sign_subtasks.c.id)
Index("ix_ee_sign_subtasks_execution_status", ee_sign_subtasks.c.execution_id, ee_sign_subtasks.c.status)
