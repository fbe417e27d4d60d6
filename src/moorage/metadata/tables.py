"""The metadata tables (SQLAlchemy Core). Times are integer epoch milliseconds, portable between
SQLite and PostgreSQL and sortable; sizes and counters are 64-bit. Every registry table carries
the registry instance, directly or through its namespace, from day one. This module holds the
registry's core (instances, namespaces, repositories, blobs, manifests, tags), identity, jobs and SWR
management; each other area's tables are in a module of their own, re-exported at the end."""

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

upload_claims = Table(
    "upload_claims",
    metadata,
    # Upload ids started without a row (state signed into the Location) whose state was used up: by a
    # first chunk (the row exists from then on), a close or a cancellation. Kept as long as a state
    # stays valid (``registry.upload_stale_after_seconds``), then purged.
    Column("id", String(32), primary_key=True),
    Column("claimed_at", BigInteger, nullable=False),
)
Index("ix_upload_claims_claimed_at", upload_claims.c.claimed_at)

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

# The other tables live in modules of their own on the same metadata, one per area (Enterprise
# instances and signing, image security, the lifecycle (GC, quotas, retention), replication, events,
# credentials, CI/CD, image sync), imported last: they use the column types above. Re-exported so
# queries import every table from here.
from moorage.metadata.cicd_tables import security_cicd_configurations as security_cicd_configurations  # noqa: E402
from moorage.metadata.cicd_tables import security_cicd_images as security_cicd_images  # noqa: E402
from moorage.metadata.credential_tables import ee_credentials as ee_credentials  # noqa: E402
from moorage.metadata.credential_tables import ee_deleted_jobs as ee_deleted_jobs  # noqa: E402
from moorage.metadata.credential_tables import ee_endpoint_policies as ee_endpoint_policies  # noqa: E402
from moorage.metadata.credential_tables import ee_instance_tags as ee_instance_tags  # noqa: E402
from moorage.metadata.credential_tables import ee_namespace_tags as ee_namespace_tags  # noqa: E402
from moorage.metadata.enterprise_tables import ee_domain_names as ee_domain_names  # noqa: E402
from moorage.metadata.enterprise_tables import ee_instances as ee_instances  # noqa: E402
from moorage.metadata.enterprise_tables import ee_namespace_options as ee_namespace_options  # noqa: E402
from moorage.metadata.enterprise_tables import ee_sign_executions as ee_sign_executions  # noqa: E402
from moorage.metadata.enterprise_tables import ee_sign_policies as ee_sign_policies  # noqa: E402
from moorage.metadata.enterprise_tables import ee_sign_subtasks as ee_sign_subtasks  # noqa: E402
from moorage.metadata.enterprise_tables import ee_sign_tasks as ee_sign_tasks  # noqa: E402
from moorage.metadata.enterprise_tables import ee_signing_keys as ee_signing_keys  # noqa: E402
from moorage.metadata.event_tables import event_dispatch as event_dispatch  # noqa: E402
from moorage.metadata.event_tables import events as events  # noqa: E402
from moorage.metadata.event_tables import triggers as triggers  # noqa: E402
from moorage.metadata.event_tables import webhook_attempts as webhook_attempts  # noqa: E402
from moorage.metadata.event_tables import webhook_deliveries as webhook_deliveries  # noqa: E402
from moorage.metadata.event_tables import webhook_policies as webhook_policies  # noqa: E402
from moorage.metadata.lifecycle_tables import ee_immutable_rules as ee_immutable_rules  # noqa: E402
from moorage.metadata.lifecycle_tables import ee_retention_executions as ee_retention_executions  # noqa: E402
from moorage.metadata.lifecycle_tables import ee_retention_policies as ee_retention_policies  # noqa: E402
from moorage.metadata.lifecycle_tables import ee_retention_subtasks as ee_retention_subtasks  # noqa: E402
from moorage.metadata.lifecycle_tables import ee_retention_tasks as ee_retention_tasks  # noqa: E402
from moorage.metadata.lifecycle_tables import gc_run_logs as gc_run_logs  # noqa: E402
from moorage.metadata.lifecycle_tables import gc_runs as gc_runs  # noqa: E402
from moorage.metadata.lifecycle_tables import gc_schedules as gc_schedules  # noqa: E402
from moorage.metadata.lifecycle_tables import namespace_blobs as namespace_blobs  # noqa: E402
from moorage.metadata.lifecycle_tables import namespace_storage as namespace_storage  # noqa: E402
from moorage.metadata.lifecycle_tables import quota_reservations as quota_reservations  # noqa: E402
from moorage.metadata.lifecycle_tables import retention_logs as retention_logs  # noqa: E402
from moorage.metadata.lifecycle_tables import retentions as retentions  # noqa: E402
from moorage.metadata.replication_tables import replication_executions as replication_executions  # noqa: E402
from moorage.metadata.replication_tables import replication_policies as replication_policies  # noqa: E402
from moorage.metadata.replication_tables import replication_registries as replication_registries  # noqa: E402
from moorage.metadata.replication_tables import replication_subtasks as replication_subtasks  # noqa: E402
from moorage.metadata.replication_tables import replication_tasks as replication_tasks  # noqa: E402
from moorage.metadata.security_tables import security_account_settings as security_account_settings  # noqa: E402
from moorage.metadata.security_tables import security_exports as security_exports  # noqa: E402
from moorage.metadata.security_tables import security_finding_handling as security_finding_handling  # noqa: E402
from moorage.metadata.security_tables import security_findings as security_findings  # noqa: E402
from moorage.metadata.security_tables import security_handling_history as security_handling_history  # noqa: E402
from moorage.metadata.security_tables import security_images as security_images  # noqa: E402
from moorage.metadata.security_tables import security_layer_analyses as security_layer_analyses  # noqa: E402
from moorage.metadata.security_tables import security_namespace_policies as security_namespace_policies  # noqa: E402
from moorage.metadata.security_tables import security_package_index as security_package_index  # noqa: E402
from moorage.metadata.security_tables import security_packages as security_packages  # noqa: E402
from moorage.metadata.security_tables import security_path_allowlists as security_path_allowlists  # noqa: E402
from moorage.metadata.security_tables import security_registries as security_registries  # noqa: E402
from moorage.metadata.security_tables import security_scan_policies as security_scan_policies  # noqa: E402
from moorage.metadata.security_tables import security_scan_results as security_scan_results  # noqa: E402
from moorage.metadata.security_tables import security_state as security_state  # noqa: E402
from moorage.metadata.security_tables import security_task_items as security_task_items  # noqa: E402
from moorage.metadata.security_tables import security_tasks as security_tasks  # noqa: E402
from moorage.metadata.security_tables import security_vulnerabilities as security_vulnerabilities  # noqa: E402
from moorage.metadata.security_tables import security_vulnerability_handling as security_vulnerability_handling  # noqa: E402
from moorage.metadata.security_tables import security_whitelists as security_whitelists  # noqa: E402

# Image synchronisation's tables (migration 0015), on the same metadata.
from moorage.metadata.sync_tables import image_sync_jobs as image_sync_jobs  # noqa: E402
from moorage.metadata.sync_tables import image_sync_rules as image_sync_rules  # noqa: E402
