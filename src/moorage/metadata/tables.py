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
    # Garbage collection (0011, see moorage.services.lifecycle): when a push last used the blob (stored,
    # linked, mounted, or found by a HEAD or GET), and since when the collector is deleting it.
    Column("touched_at", BigInteger, nullable=False, server_default="0"),
    Column("deleting_since", BigInteger, nullable=True),
)
Index("ix_blobs_deleting_since", blobs.c.deleting_since)

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

login_failures = Table(
    "login_failures",
    metadata,
    # Failed-login counters of the login throttle (``failures`` > 0) and its markers of a failure
    # already counted (``failures`` = -1), under opaque digests of (user, address[, credential]).
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
)
Index("ix_login_failures_expires", login_failures.c.expires_at_ms)

seen_signatures = Table(
    "seen_signatures",
    metadata,
    Column("signature", String(64), primary_key=True),  # the hex HMAC of an accepted SDK-signed request
    Column("first_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),  # when the signature's X-Sdk-Date is stale everywhere
)
Index("ix_seen_signatures_expires_at", seen_signatures.c.expires_at)

periodic_runs = Table(
    "periodic_runs",
    metadata,
    # Periodic chores every process of every node offers to run (the upload purge, job recovery, the
    # image-security pass): whoever moves ``next_run_at`` past now with a compare-and-set runs that period.
    Column("name", String(64), primary_key=True),
    Column("next_run_at", BigInteger, nullable=False),
    Column("last_run_at", BigInteger, nullable=False),
    Column("holder", String(255), nullable=False),  # "<host>:<pid>" of the process that ran it last
    Column("runs", BigInteger, nullable=False),
)

system_facts = Table(
    "system_facts",
    metadata,
    # Facts every node of one database must agree on, set by the first start (``master_key_check``:
    # an HKDF output of the master key, which reveals nothing of it but differs for another key).
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
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

# Image security (hs01) ---------------------------------------------------------------------------
# HSS's view of images: connected registries (moorage's own SWR private / shared / enterprise
# entries and external Harbor / JFrog / OCI registries), one row per image tag per registry, scan
# results keyed by manifest digest (shared by every account and image with that digest), layer
# analyses keyed by layer digest (shared by everybody), scan and sync tasks, policies, and the
# per-account state of the detail queries (vulnerability handling, whitelists, exports).

security_registries = Table(
    "security_registries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    # SwrPrivate | SwrShared | SwrEnterprise (moorage itself, one each per account, made on demand)
    # | Harbor | Jfrog | Other (external)
    Column("type", String(16), nullable=False),
    Column("api_version", String(8), nullable=False, server_default="V2"),
    Column("protocol", String(8), nullable=False, server_default="https"),
    Column("address", String(256), nullable=False, server_default=""),  # host[:port], no scheme
    Column("username", String(128), nullable=False, server_default=""),
    Column("password_encrypted", Text, nullable=False, server_default=""),  # MasterKey, context registry:<id>
    Column("organization_filter", Text, nullable=False, server_default=""),  # comma-separated; empty: all
    Column("connect_cluster_id", String(64), nullable=False, server_default=""),
    Column("scan_image_channel", String(16), nullable=False, server_default=""),
    Column("status", String(16), nullable=False, server_default="success"),  # success | fail | accessing
    Column("fail_reason", String(255), nullable=False, server_default=""),
    Column("images_num", Integer, nullable=False, server_default="0"),
    Column("latest_sync_time", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_security_registries_domain_name"),
)

security_images = Table(
    "security_images",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("registry_id", String(32), ForeignKey("security_registries.id", ondelete="CASCADE"), nullable=False),
    # A multi-architecture image's platform images are rows of their own pointing at it.
    Column("parent_id", Id, ForeignKey("security_images.id", ondelete="CASCADE"), nullable=True),
    Column("row_key", String(64), nullable=False),  # sha256 of (namespace, name, tag[, child digest])
    # private_image | shared_image | instance_image | harbor | jfrog | other
    Column("image_type", String(16), nullable=False),
    Column("namespace", String(128), nullable=False),
    Column("image_name", String(255), nullable=False),
    Column("image_version", String(128), nullable=False),
    Column("image_digest", DIGEST, nullable=False),
    Column("image_id", String(140), nullable=False, server_default=""),  # config digest hex
    Column("media_type", String(255), nullable=False, server_default=""),
    Column("platform", String(64), nullable=False, server_default=""),
    Column("image_size", BigInteger, nullable=False, server_default="0"),
    Column("is_multiple_arch", Boolean, nullable=False, server_default="0"),
    Column("latest_version", Boolean, nullable=False, server_default="0"),
    Column("latest_update_time", BigInteger, nullable=False, server_default="0"),
    Column("latest_sync_time", BigInteger, nullable=False, server_default="0"),
    # Denormalised from security_scan_results (per account: handled vulnerabilities are not counted),
    # so every list filter is a column test.
    Column("scan_status", String(20), nullable=False, server_default="unscan"),
    Column("scan_failed_code", String(64), nullable=False, server_default=""),
    Column("latest_scan_time", BigInteger, nullable=False, server_default="0"),
    Column("vul_num", Integer, nullable=False, server_default="0"),
    Column("unsafe_setting_num", Integer, nullable=False, server_default="0"),
    Column("malicious_file_num", Integer, nullable=False, server_default="0"),
    Column("severity_level", String(16), nullable=False, server_default=""),  # Security | Low | Medium | High
    Column("domain_name", String(128), nullable=False, server_default=""),  # owner of a shared image
    Column("shared_status", String(16), nullable=False, server_default=""),  # effective | expired
    Column("instance_id", String(64), nullable=False, server_default=""),
    Column("instance_name", String(128), nullable=False, server_default=""),
    Column("instance_url", String(256), nullable=False, server_default=""),
    Column("repository_id", Id, nullable=True),  # moorage's own repository (no foreign key: rows outlive it)
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("registry_id", "row_key", name="uq_security_images_registry_key"),
)
Index(
    "ix_security_images_list",
    security_images.c.domain_id,
    security_images.c.image_type,
    security_images.c.latest_update_time,
)
Index("ix_security_images_scan_time", security_images.c.domain_id, security_images.c.latest_scan_time)
Index("ix_security_images_digest", security_images.c.image_digest)
Index("ix_security_images_parent", security_images.c.parent_id)

security_scan_results = Table(
    "security_scan_results",
    metadata,
    Column("manifest_digest", DIGEST, primary_key=True),
    Column("status", String(16), nullable=False),  # scanning | success | failed
    Column("failed_code", String(64), nullable=False, server_default=""),
    Column("failed_message", Text, nullable=False, server_default=""),
    Column("holder_job_id", String(32), nullable=False, server_default=""),  # the job scanning it now
    Column("scanners", String(64), nullable=False, server_default=""),  # vuln,secret,malware,config
    Column("report", LargeBinary, nullable=True),  # zlib-compressed JSON report (inventory + findings)
    Column("summary", Text, nullable=False, server_default="{}"),  # counts and finding ids, for lists and policies
    Column("vul_num", Integer, nullable=False, server_default="0"),
    Column("malicious_file_num", Integer, nullable=False, server_default="0"),
    Column("unsafe_setting_num", Integer, nullable=False, server_default="0"),
    Column("sensitive_num", Integer, nullable=False, server_default="0"),
    Column("severity_level", String(16), nullable=False, server_default=""),
    Column("advisory_db", String(64), nullable=False, server_default=""),  # built_at of the database matched
    Column("scanner_version", String(32), nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="0"),  # bumped by every write
    Column("started_at", BigInteger, nullable=False, server_default="0"),
    Column("scanned_at", BigInteger, nullable=False, server_default="0"),
)

security_vulnerabilities = Table(
    "security_vulnerabilities",
    metadata,
    # One row per finding of a scan result (a vulnerability in one installed package).
    Column(
        "manifest_digest",
        DIGEST,
        ForeignKey("security_scan_results.manifest_digest", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("finding_key", String(64), primary_key=True),  # sha256 of the finding's key: stable across rescans
    Column("vul_id", String(128), nullable=False),
    Column("aliases", Text, nullable=False, server_default=""),  # space-separated
    Column("severity", String(16), nullable=False),
    Column("score", String(8), nullable=False, server_default=""),
    Column("ecosystem", String(16), nullable=False),
    Column("package_name", String(255), nullable=False),
    Column("package_version", String(255), nullable=False),
    Column("purl", Text, nullable=False, server_default=""),
    Column("path", Text, nullable=False, server_default=""),
    Column("layer_digest", DIGEST, nullable=False, server_default=""),
    Column("fixed_version", String(255), nullable=False, server_default=""),
    Column("fix_state", String(16), nullable=False, server_default=""),
    Column("title", Text, nullable=False, server_default=""),
)
Index("ix_security_vulnerabilities_vul", security_vulnerabilities.c.vul_id)

security_findings = Table(
    "security_findings",
    metadata,
    # Other findings of a scan result: malicious files, sensitive information, unsafe settings,
    # risky build commands.
    Column(
        "manifest_digest",
        DIGEST,
        ForeignKey("security_scan_results.manifest_digest", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("finding_key", String(64), primary_key=True),
    Column("category", String(16), nullable=False),  # secret, malware, baseline, image_config, build_command
    Column("rule_id", String(128), nullable=False, server_default=""),
    Column("severity", String(16), nullable=False, server_default=""),
    Column("path", Text, nullable=False, server_default=""),
    Column("layer_digest", DIGEST, nullable=False, server_default=""),
    Column("title", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default="{}"),  # the finding's JSON form
)
Index("ix_security_findings_category", security_findings.c.manifest_digest, security_findings.c.category)

security_layer_analyses = Table(
    "security_layer_analyses",
    metadata,
    # The scanner's layer cache, shared by every worker and node: per layer digest, its file list
    # (part "files") and each plug-in's results (part "<plugin>@<version>"), zlib-compressed JSON.
    Column("layer_digest", DIGEST, primary_key=True),
    Column("part", String(128), primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

security_tasks = Table(
    "security_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(16), nullable=False),  # image_scan | image_sync
    Column("task_type", String(16), nullable=False),  # manual | cycle | push | manualSync | autoSync
    Column("name", String(255), nullable=False),
    Column("job_id", String(32), nullable=False, server_default=""),
    Column("policy_id", String(64), nullable=False, server_default=""),
    Column("scan_scope", Integer, nullable=False, server_default="0"),
    Column("rate_limit", Integer, nullable=False, server_default="0"),  # images per hour; 0: no limit
    Column("is_all", Boolean, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # waiting | running | finished | stopped | failed
    Column("total", Integer, nullable=False, server_default="0"),
    Column("succeeded", Integer, nullable=False, server_default="0"),
    Column("failed", Integer, nullable=False, server_default="0"),
    Column("risky", Integer, nullable=False, server_default="0"),
    Column("failed_reason", String(255), nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("begin_time", BigInteger, nullable=False, server_default="0"),
    Column("end_time", BigInteger, nullable=False, server_default="0"),
)
Index("ix_security_tasks_domain_created", security_tasks.c.domain_id, security_tasks.c.created_at)

security_task_items = Table(
    "security_task_items",
    metadata,
    # What a task works through: images (scan tasks) or registries (sync tasks), in order.
    Column("task_id", String(32), ForeignKey("security_tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("image_row_id", Id, nullable=True),  # security_images.id (rows may be removed by a sync)
    Column("registry_id", String(32), nullable=False, server_default=""),
    Column("manifest_digest", DIGEST, nullable=False, server_default=""),
    Column("label", Text, nullable=False, server_default=""),  # namespace/name:tag or the registry name
    Column("status", String(16), nullable=False),  # waiting | running | success | failed | stopped
    Column("failed_reason", String(255), nullable=False, server_default=""),
    Column("finished_at", BigInteger, nullable=False, server_default="0"),
)

security_scan_policies = Table(
    "security_scan_policies",
    metadata,
    # HSS's scheduled-scan policy, one per account.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("scan_cycle", Integer, nullable=False, server_default="7"),  # days: 3, 7 or 14
    Column("scan_scope", Integer, nullable=False, server_default="2147483647"),
    Column("rate_limit", Integer, nullable=False, server_default="0"),
    Column("time_scope", Integer, nullable=False, server_default="0"),  # days; 0: every image
    Column("registry_ids", Text, nullable=False, server_default="[]"),  # JSON list; empty: every registry
    Column("last_run_at", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", BigInteger, nullable=False),
)

security_namespace_policies = Table(
    "security_namespace_policies",
    metadata,
    # moorage's per-organization policies: scan on push (NULL: the global setting) and refusing
    # pulls of images with findings at or above a severity, with an allowlist of vulnerability ids.
    Column("namespace_id", Id, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("scan_on_push", Boolean, nullable=True),
    Column("block_severity", String(16), nullable=False, server_default=""),  # "" off, low, medium, high, critical
    Column("block_unscanned", Boolean, nullable=False, server_default="0"),
    Column("allowlist", Text, nullable=False, server_default="[]"),  # JSON list of vulnerability ids
    Column("allowlist_expires_at", BigInteger, nullable=False, server_default="0"),  # epoch s; 0 never
    Column("version", Integer, nullable=False, server_default="1"),  # bumped by every change (verdict caches)
    Column("updated_at", BigInteger, nullable=False),
)

security_state = Table(
    "security_state",
    metadata,
    # Small facts workers share: the advisory database last matched, the last scheduled-scan check.
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

security_vulnerability_handling = Table(
    "security_vulnerability_handling",
    metadata,
    # An account's decision about a vulnerability in an image's content (ignored...), kept across rescans.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("manifest_digest", DIGEST, primary_key=True),
    Column("vul_id", String(128), primary_key=True),
    Column("handle_status", String(16), nullable=False),  # ignored | unhandled
    Column("remark", Text, nullable=False, server_default=""),
    Column("user_name", String(64), nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
)

security_handling_history = Table(
    "security_handling_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("manifest_digest", DIGEST, nullable=False),
    Column("image_row_id", Id, nullable=True),
    Column("vul_id", String(128), nullable=False),
    Column("handle_type", String(16), nullable=False),  # ignore | not_ignore ...
    Column("status", String(16), nullable=False, server_default=""),
    Column("remark", Text, nullable=False, server_default=""),
    Column("user_name", String(64), nullable=False, server_default=""),
    Column("app_name", String(255), nullable=False, server_default=""),
    Column("app_version", String(255), nullable=False, server_default=""),
    Column("app_path", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)
Index(
    "ix_security_handling_history_domain", security_handling_history.c.domain_id, security_handling_history.c.created_at
)

security_whitelists = Table(
    "security_whitelists",
    metadata,
    # Image vulnerability whitelists: a vulnerability id ignored in every image of a type, or in chosen images.
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("vul_type", String(32), nullable=False, server_default=""),
    Column("vul_id", String(128), nullable=False),
    Column("rule_type", String(32), nullable=False),  # all_image | specific_image
    Column("image_type", String(16), nullable=False, server_default=""),
    Column("image_row_ids", Text, nullable=False, server_default="[]"),  # JSON list of security_images ids
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
Index("ix_security_whitelists_domain_vul", security_whitelists.c.domain_id, security_whitelists.c.vul_id)

security_path_allowlists = Table(
    "security_path_allowlists",
    metadata,
    # File paths the sensitive-information results of an account leave out.
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("file_path", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_security_path_allowlists_domain", security_path_allowlists.c.domain_id)

security_exports = Table(
    "security_exports",
    metadata,
    # Report export tasks (CSV, HTML/PDF): their status and, once done, the file.
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("file_format", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("job_id", String(32), nullable=False, server_default=""),
    Column("file_name", String(255), nullable=False, server_default=""),
    Column("content", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False, server_default="0"),
)

# Image security details (0006) --------------------------------------------------------------------
# What the detail queries keep beside part one's tables: the packages of each scan result as rows
# (indexed lazily from the stored reports, for the app lists and their joins), per-account
# decisions about non-vulnerability findings (ignored sensitive information), and per-account
# settings (custom weak passwords, the version that pull verdict caches follow).

security_packages = Table(
    "security_packages",
    metadata,
    # One installed package (or one the scanner could not match) of a scan result.
    Column(
        "manifest_digest",
        DIGEST,
        ForeignKey("security_scan_results.manifest_digest", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),  # order in the report's inventory
    Column("ecosystem", String(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("version", String(255), nullable=False),
    Column("purl", Text, nullable=False, server_default=""),
    Column("path", Text, nullable=False, server_default=""),
    Column("layer_digest", DIGEST, nullable=False, server_default=""),
    Column("compliant", Boolean, nullable=False, server_default="1"),  # false: its versions cannot be checked
    Column("note", String(255), nullable=False, server_default=""),  # why not (the scanner's skip reason)
)
Index("ix_security_packages_name", security_packages.c.name)

security_package_index = Table(
    "security_package_index",
    metadata,
    # Which result version the package rows of a digest were taken from (re-indexed when it changes).
    Column(
        "manifest_digest",
        DIGEST,
        ForeignKey("security_scan_results.manifest_digest", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("result_version", Integer, nullable=False),
    Column("indexed_at", BigInteger, nullable=False),
)

security_finding_handling = Table(
    "security_finding_handling",
    metadata,
    # An account's decision about a non-vulnerability finding (ignored sensitive information), by the
    # report's stable finding id: it holds in every image of the account that has the finding.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("finding_key", String(64), primary_key=True),
    Column("handle_status", String(16), nullable=False),  # ignored
    Column("user_name", String(64), nullable=False, server_default=""),
    Column("updated_at", BigInteger, nullable=False),
)

security_account_settings = Table(
    "security_account_settings",
    metadata,
    # Small per-account facts: ``extended_weak_passwords`` (JSON list), ``handling_version``.
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)


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

# The event stream's tables live in their own module on the same metadata (imported last: it uses
# the column types above). Re-exported so queries import every table from here.
from moorage.metadata.cicd_tables import security_cicd_configurations as security_cicd_configurations  # noqa: E402
from moorage.metadata.cicd_tables import security_cicd_images as security_cicd_images  # noqa: E402
from moorage.metadata.credential_tables import ee_credentials as ee_credentials  # noqa: E402
from moorage.metadata.credential_tables import ee_deleted_jobs as ee_deleted_jobs  # noqa: E402
from moorage.metadata.credential_tables import ee_endpoint_policies as ee_endpoint_policies  # noqa: E402
from moorage.metadata.credential_tables import ee_instance_tags as ee_instance_tags  # noqa: E402
from moorage.metadata.credential_tables import ee_namespace_tags as ee_namespace_tags  # noqa: E402
from moorage.metadata.event_tables import event_dispatch as event_dispatch  # noqa: E402
from moorage.metadata.event_tables import events as events  # noqa: E402
from moorage.metadata.event_tables import triggers as triggers  # noqa: E402
from moorage.metadata.event_tables import webhook_attempts as webhook_attempts  # noqa: E402
from moorage.metadata.event_tables import webhook_deliveries as webhook_deliveries  # noqa: E402
from moorage.metadata.event_tables import webhook_policies as webhook_policies  # noqa: E402
from moorage.metadata.replication_tables import replication_executions as replication_executions  # noqa: E402
from moorage.metadata.replication_tables import replication_policies as replication_policies  # noqa: E402
from moorage.metadata.replication_tables import replication_registries as replication_registries  # noqa: E402
from moorage.metadata.replication_tables import replication_subtasks as replication_subtasks  # noqa: E402
from moorage.metadata.replication_tables import replication_tasks as replication_tasks  # noqa: E402

# Image synchronisation's tables (migration 0015), on the same metadata.
from moorage.metadata.sync_tables import image_sync_jobs as image_sync_jobs  # noqa: E402
from moorage.metadata.sync_tables import image_sync_rules as image_sync_rules  # noqa: E402
