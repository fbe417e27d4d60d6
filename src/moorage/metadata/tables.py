"""The metadata tables (SQLAlchemy Core). Times are integer epoch milliseconds, portable between
SQLite and PostgreSQL and sortable; sizes and counters are 64-bit. Every registry table carries
the registry instance, directly or through its namespace, from day one."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Naming convention so Alembic migrations name constraints the same way on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid alias
DIGEST = String(140)  # "sha512:" + 128 hex
NAME = String(255)

instances = Table(
    "instances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", NAME, nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

namespaces = Table(
    "namespaces",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("domain_id", String(64), nullable=True),
    Column("creator_name", NAME, nullable=False, server_default=""),
    Column("is_public", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("instance_id", "name", name="uq_namespaces_instance_name"),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("full_name", String(200), nullable=False),
    Column("is_public", Boolean, nullable=False, server_default="0"),
    Column("category", String(64), nullable=False, server_default="other"),
    Column("description", Text, nullable=False, server_default=""),
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("tag_count", Integer, nullable=False, server_default="0"),
    Column("download_count", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Added by 0002 (the SWR management API): who created it through the API (empty when a push did),
    # and the bytes its pulls served (each manifest GET counts the image's full size).
    Column("creator_id", String(32), nullable=False, server_default=""),
    Column("creator_name", String(64), nullable=False, server_default=""),
    Column("download_bytes", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("instance_id", "full_name", name="uq_repositories_instance_full_name"),
)
Index("ix_repositories_namespace_name", repositories.c.namespace_id, repositories.c.name)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", DIGEST, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", DIGEST, ForeignKey("blobs.digest", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_repository_blobs_digest", repository_blobs.c.digest)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("repository", String(200), nullable=False),  # full name; the repository may not exist yet
    Column("size", BigInteger, nullable=False, server_default="0"),
    Column("lease_until", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_uploads_updated_at", uploads.c.updated_at)

manifests = Table(
    "manifests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255), nullable=False, server_default=""),
    Column("subject_digest", DIGEST, nullable=True),
    Column("config_digest", DIGEST, nullable=True),
    Column("payload", LargeBinary, nullable=False),
    Column("total_size", BigInteger, nullable=False),
    Column("annotations", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("last_pulled_at", BigInteger, nullable=True),
    UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
)
Index("ix_manifests_subject", manifests.c.repository_id, manifests.c.subject_digest)

manifest_references = Table(
    "manifest_references",
    metadata,
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # config | layer | manifest
    Column("digest", DIGEST, nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("platform", Text, nullable=False, server_default=""),
)
Index("ix_manifest_references_digest", manifest_references.c.digest)

tags = Table(
    "tags",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("manifest_id", Id, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("repository_id", "name", name="uq_tags_repository_name"),
)
Index("ix_tags_manifest", tags.c.manifest_id)
# The management API lists tags by update time (keyset on (updated_at, id)).
Index("ix_tags_repository_updated", tags.c.repository_id, tags.c.updated_at, tags.c.id)

# Identity ---------------------------------------------------------------------------------------
# Ids of domains, users and projects are 32 lowercase hex characters, as IAM's are.

domains = Table(
    "domains",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    # User names are unique across moorage (not only per domain) so that a plain `docker login -u name`
    # is unambiguous.
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="0"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_users_domain", users.c.domain_id)

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),  # the region id, e.g. local-1
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_projects_domain_name"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access", String(40), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("secret_encrypted", Text, nullable=False),
    Column("description", String(255), nullable=False, server_default=""),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_access_keys_user", access_keys.c.user_id)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

namespace_permissions = Table(
    "namespace_permissions",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("auth", Integer, nullable=False),  # 1 read, 3 write, 7 manage
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_namespace_permissions_namespace", namespace_permissions.c.namespace_id)

repository_permissions = Table(
    "repository_permissions",
    metadata,
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("auth", Integer, nullable=False),  # 1 read, 3 write, 7 manage
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_repository_permissions_repository", repository_permissions.c.repository_id)

# Jobs --------------------------------------------------------------------------------------------
# The queue (huey, on SQLite or Redis) only carries "run job <id>"; the truth about a job lives
# here, so a lost message or a killed worker is recovered from this table (see moorage.jobs).

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | running | succeeded | failed | stopped
    Column("params", Text, nullable=False, server_default="{}"),
    Column("result", Text, nullable=False, server_default=""),
    Column("error", Text, nullable=False, server_default=""),
    Column("progress", Integer, nullable=False, server_default="0"),
    Column("total", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("max_attempts", Integer, nullable=False, server_default="3"),
    Column("lease_until", BigInteger, nullable=False, server_default="0"),
    Column("worker", String(128), nullable=False, server_default=""),
    Column("stop_requested", Boolean, nullable=False, server_default="0"),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("domain_id", String(32), nullable=True),
    Column("not_before", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
)
Index("ix_jobs_status_lease", jobs.c.status, jobs.c.lease_until)
Index("ix_jobs_kind_created", jobs.c.kind, jobs.c.created_at)

# SWR management (0003) --------------------------------------------------------------------------

repository_shares = Table(
    "repository_shares",
    metadata,
    Column("repository_id", Id, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    # The account the repository is shared with (SWR's "access domain", named by the API).
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("permit", String(16), nullable=False, server_default="read"),
    Column("deadline", BigInteger, nullable=True),  # epoch ms; NULL: forever
    Column("description", Text, nullable=False, server_default=""),
    Column("creator_id", String(32), nullable=False, server_default=""),
    Column("creator_name", String(64), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_repository_shares_domain", repository_shares.c.domain_id)

agencies = Table(
    "agencies",
    metadata,
    # SWR's CCE delegation has no meaning outside Huawei Cloud: remembered, never acted on.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

usage_snapshots = Table(
    "usage_snapshots",
    metadata,
    # One row per account, instance and UTC day: the resource reports read these.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD
    Column("namespaces", Integer, nullable=False, server_default="0"),
    Column("repositories", Integer, nullable=False, server_default="0"),
    Column("images", BigInteger, nullable=False, server_default="0"),
    Column("storage", BigInteger, nullable=False, server_default="0"),
    Column("downloads", BigInteger, nullable=False, server_default="0"),
    Column("download_bytes", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)

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
