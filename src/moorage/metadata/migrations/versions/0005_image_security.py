"""Image security: connected registries, the HSS image table, scan results by manifest digest and their
findings, the shared layer-analysis cache, scan and sync tasks, scan and organization policies, and the
per-account state of vulnerability handling, whitelists and report exports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 19:57:25.281262
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "security_layer_analyses",
        sa.Column("layer_digest", sa.String(length=140), nullable=False),
        sa.Column("part", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("layer_digest", "part", name=op.f("pk_security_layer_analyses")),
    )
    op.create_table(
        "security_scan_results",
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("failed_message", sa.Text(), server_default="", nullable=False),
        sa.Column("holder_job_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("scanners", sa.String(length=64), server_default="", nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=True),
        sa.Column("summary", sa.Text(), server_default="{}", nullable=False),
        sa.Column("vul_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("malicious_file_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unsafe_setting_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sensitive_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("severity_level", sa.String(length=16), server_default="", nullable=False),
        sa.Column("advisory_db", sa.String(length=64), server_default="", nullable=False),
        sa.Column("scanner_version", sa.String(length=32), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("scanned_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("manifest_digest", name=op.f("pk_security_scan_results")),
    )
    op.create_table(
        "security_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_security_state")),
    )
    op.create_table(
        "security_exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("file_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_exports_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_exports")),
    )
    op.create_table(
        "security_findings",
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("finding_key", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=128), server_default="", nullable=False),
        sa.Column("severity", sa.String(length=16), server_default="", nullable=False),
        sa.Column("path", sa.Text(), server_default="", nullable=False),
        sa.Column("layer_digest", sa.String(length=140), server_default="", nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_digest"],
            ["security_scan_results.manifest_digest"],
            name=op.f("fk_security_findings_manifest_digest_security_scan_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("manifest_digest", "finding_key", name=op.f("pk_security_findings")),
    )
    with op.batch_alter_table("security_findings", schema=None) as batch_op:
        batch_op.create_index("ix_security_findings_category", ["manifest_digest", "category"], unique=False)

    op.create_table(
        "security_handling_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("image_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("vul_id", sa.String(length=128), nullable=False),
        sa.Column("handle_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="", nullable=False),
        sa.Column("remark", sa.Text(), server_default="", nullable=False),
        sa.Column("user_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("app_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("app_version", sa.String(length=255), server_default="", nullable=False),
        sa.Column("app_path", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_handling_history_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_handling_history")),
    )
    with op.batch_alter_table("security_handling_history", schema=None) as batch_op:
        batch_op.create_index("ix_security_handling_history_domain", ["domain_id", "created_at"], unique=False)

    op.create_table(
        "security_path_allowlists",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_path_allowlists_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_path_allowlists")),
    )
    with op.batch_alter_table("security_path_allowlists", schema=None) as batch_op:
        batch_op.create_index("ix_security_path_allowlists_domain", ["domain_id"], unique=False)

    op.create_table(
        "security_registries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("api_version", sa.String(length=8), server_default="V2", nullable=False),
        sa.Column("protocol", sa.String(length=8), server_default="https", nullable=False),
        sa.Column("address", sa.String(length=256), server_default="", nullable=False),
        sa.Column("username", sa.String(length=128), server_default="", nullable=False),
        sa.Column("password_encrypted", sa.Text(), server_default="", nullable=False),
        sa.Column("organization_filter", sa.Text(), server_default="", nullable=False),
        sa.Column("connect_cluster_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("scan_image_channel", sa.String(length=16), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="success", nullable=False),
        sa.Column("fail_reason", sa.String(length=255), server_default="", nullable=False),
        sa.Column("images_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("latest_sync_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_registries_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_registries")),
        sa.UniqueConstraint("domain_id", "name", name="uq_security_registries_domain_name"),
    )
    op.create_table(
        "security_scan_policies",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("scan_cycle", sa.Integer(), server_default="7", nullable=False),
        sa.Column("scan_scope", sa.Integer(), server_default="2147483647", nullable=False),
        sa.Column("rate_limit", sa.Integer(), server_default="0", nullable=False),
        sa.Column("time_scope", sa.Integer(), server_default="0", nullable=False),
        sa.Column("registry_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("last_run_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_scan_policies_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("domain_id", name=op.f("pk_security_scan_policies")),
    )
    op.create_table(
        "security_tasks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("task_type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("job_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("policy_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("scan_scope", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rate_limit", sa.Integer(), server_default="0", nullable=False),
        sa.Column("is_all", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("succeeded", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("risky", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_reason", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("begin_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("end_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_tasks_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_tasks")),
    )
    with op.batch_alter_table("security_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_security_tasks_domain_created", ["domain_id", "created_at"], unique=False)

    op.create_table(
        "security_vulnerabilities",
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("finding_key", sa.String(length=64), nullable=False),
        sa.Column("vul_id", sa.String(length=128), nullable=False),
        sa.Column("aliases", sa.Text(), server_default="", nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("score", sa.String(length=8), server_default="", nullable=False),
        sa.Column("ecosystem", sa.String(length=16), nullable=False),
        sa.Column("package_name", sa.String(length=255), nullable=False),
        sa.Column("package_version", sa.String(length=255), nullable=False),
        sa.Column("purl", sa.Text(), server_default="", nullable=False),
        sa.Column("path", sa.Text(), server_default="", nullable=False),
        sa.Column("layer_digest", sa.String(length=140), server_default="", nullable=False),
        sa.Column("fixed_version", sa.String(length=255), server_default="", nullable=False),
        sa.Column("fix_state", sa.String(length=16), server_default="", nullable=False),
        sa.Column("title", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["manifest_digest"],
            ["security_scan_results.manifest_digest"],
            name=op.f("fk_security_vulnerabilities_manifest_digest_security_scan_results"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("manifest_digest", "finding_key", name=op.f("pk_security_vulnerabilities")),
    )
    with op.batch_alter_table("security_vulnerabilities", schema=None) as batch_op:
        batch_op.create_index("ix_security_vulnerabilities_vul", ["vul_id"], unique=False)

    op.create_table(
        "security_vulnerability_handling",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("manifest_digest", sa.String(length=140), nullable=False),
        sa.Column("vul_id", sa.String(length=128), nullable=False),
        sa.Column("handle_status", sa.String(length=16), nullable=False),
        sa.Column("remark", sa.Text(), server_default="", nullable=False),
        sa.Column("user_name", sa.String(length=64), server_default="", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_security_vulnerability_handling_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "manifest_digest", "vul_id", name=op.f("pk_security_vulnerability_handling")
        ),
    )
    op.create_table(
        "security_whitelists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("vul_type", sa.String(length=32), server_default="", nullable=False),
        sa.Column("vul_id", sa.String(length=128), nullable=False),
        sa.Column("rule_type", sa.String(length=32), nullable=False),
        sa.Column("image_type", sa.String(length=16), server_default="", nullable=False),
        sa.Column("image_row_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_whitelists_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_whitelists")),
    )
    with op.batch_alter_table("security_whitelists", schema=None) as batch_op:
        batch_op.create_index("ix_security_whitelists_domain_vul", ["domain_id", "vul_id"], unique=False)

    op.create_table(
        "security_images",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("registry_id", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("row_key", sa.String(length=64), nullable=False),
        sa.Column("image_type", sa.String(length=16), nullable=False),
        sa.Column("namespace", sa.String(length=128), nullable=False),
        sa.Column("image_name", sa.String(length=255), nullable=False),
        sa.Column("image_version", sa.String(length=128), nullable=False),
        sa.Column("image_digest", sa.String(length=140), nullable=False),
        sa.Column("image_id", sa.String(length=140), server_default="", nullable=False),
        sa.Column("media_type", sa.String(length=255), server_default="", nullable=False),
        sa.Column("platform", sa.String(length=64), server_default="", nullable=False),
        sa.Column("image_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("is_multiple_arch", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("latest_version", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("latest_update_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("latest_sync_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("scan_status", sa.String(length=20), server_default="unscan", nullable=False),
        sa.Column("scan_failed_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("latest_scan_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("vul_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unsafe_setting_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("malicious_file_num", sa.Integer(), server_default="0", nullable=False),
        sa.Column("severity_level", sa.String(length=16), server_default="", nullable=False),
        sa.Column("domain_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("shared_status", sa.String(length=16), server_default="", nullable=False),
        sa.Column("instance_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("instance_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("instance_url", sa.String(length=256), server_default="", nullable=False),
        sa.Column("repository_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["domains.id"], name=op.f("fk_security_images_domain_id_domains"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["security_images.id"],
            name=op.f("fk_security_images_parent_id_security_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["security_registries.id"],
            name=op.f("fk_security_images_registry_id_security_registries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_images")),
        sa.UniqueConstraint("registry_id", "row_key", name="uq_security_images_registry_key"),
    )
    with op.batch_alter_table("security_images", schema=None) as batch_op:
        batch_op.create_index("ix_security_images_digest", ["image_digest"], unique=False)
        batch_op.create_index(
            "ix_security_images_list", ["domain_id", "image_type", "latest_update_time"], unique=False
        )
        batch_op.create_index("ix_security_images_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_security_images_scan_time", ["domain_id", "latest_scan_time"], unique=False)

    op.create_table(
        "security_namespace_policies",
        sa.Column("namespace_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scan_on_push", sa.Boolean(), nullable=True),
        sa.Column("block_severity", sa.String(length=16), server_default="", nullable=False),
        sa.Column("block_unscanned", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("allowlist", sa.Text(), server_default="[]", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_security_namespace_policies_namespace_id_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", name=op.f("pk_security_namespace_policies")),
    )
    op.create_table(
        "security_task_items",
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("image_row_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("registry_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("manifest_digest", sa.String(length=140), server_default="", nullable=False),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failed_reason", sa.String(length=255), server_default="", nullable=False),
        sa.Column("finished_at", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["security_tasks.id"],
            name=op.f("fk_security_task_items_task_id_security_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "position", name=op.f("pk_security_task_items")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("security_task_items")
    op.drop_table("security_namespace_policies")
    with op.batch_alter_table("security_images", schema=None) as batch_op:
        batch_op.drop_index("ix_security_images_scan_time")
        batch_op.drop_index("ix_security_images_parent")
        batch_op.drop_index("ix_security_images_list")
        batch_op.drop_index("ix_security_images_digest")

    op.drop_table("security_images")
    with op.batch_alter_table("security_whitelists", schema=None) as batch_op:
        batch_op.drop_index("ix_security_whitelists_domain_vul")

    op.drop_table("security_whitelists")
    op.drop_table("security_vulnerability_handling")
    with op.batch_alter_table("security_vulnerabilities", schema=None) as batch_op:
        batch_op.drop_index("ix_security_vulnerabilities_vul")

    op.drop_table("security_vulnerabilities")
    with op.batch_alter_table("security_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_security_tasks_domain_created")

    op.drop_table("security_tasks")
    op.drop_table("security_scan_policies")
    op.drop_table("security_registries")
    with op.batch_alter_table("security_path_allowlists", schema=None) as batch_op:
        batch_op.drop_index("ix_security_path_allowlists_domain")

    op.drop_table("security_path_allowlists")
    with op.batch_alter_table("security_handling_history", schema=None) as batch_op:
        batch_op.drop_index("ix_security_handling_history_domain")

    op.drop_table("security_handling_history")
    with op.batch_alter_table("security_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_security_findings_category")

    op.drop_table("security_findings")
    op.drop_table("security_exports")
    op.drop_table("security_state")
    op.drop_table("security_scan_results")
    op.drop_table("security_layer_analyses")
