"""HSS CI/CD tables (migration 0018): an account's CI/CD configurations (the gate a pipeline's scan
must pass) and the images pipelines uploaded under them.

An uploaded image's result lives in ``security_scan_results`` under its ``result_key`` (see
``moorage.domain.security_cicd.result_key``), never under the manifest digest: an upload is data
from an untrusted pipeline and must not stand for a registry scan. Kept apart from ``tables.py``
(imported at its end, on the same ``metadata``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from moorage.metadata.tables import DIGEST, Id, metadata

security_cicd_configurations = Table(
    "security_cicd_configurations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    # JSON lists of strings (each at most 1000 entries, as the SDK documents).
    Column("vulnerability_whitelist", Text, nullable=False, server_default="[]"),
    Column("vulnerability_blocklist", Text, nullable=False, server_default="[]"),
    Column("image_whitelist", Text, nullable=False, server_default="[]"),
    Column("block_severities", String(64), nullable=False, server_default="critical,high"),
    Column("block_on_secrets", Boolean, nullable=False, server_default="1"),
    Column("block_on_malicious_files", Boolean, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("domain_id", "name", name="uq_security_cicd_configurations_domain_name"),
)

security_cicd_images = Table(
    "security_cicd_images",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("domain_id", String(32), ForeignKey("domains.id", ondelete="CASCADE"), nullable=False),
    Column(
        "cicd_id",
        String(32),
        ForeignKey("security_cicd_configurations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("namespace", String(128), nullable=False, server_default=""),
    Column("image_name", String(255), nullable=False),
    Column("image_version", String(128), nullable=False, server_default=""),
    Column("manifest_digest", DIGEST, nullable=False),  # as the pipeline reported it
    Column("result_key", DIGEST, nullable=False),  # the security_scan_results row holding its result
    Column("pipeline_type", String(32), nullable=False, server_default=""),
    Column("image_size", BigInteger, nullable=False, server_default="0"),
    Column("latest_version", Boolean, nullable=False, server_default="1"),
    Column("gate_passed", Boolean, nullable=False, server_default="1"),
    Column("gate_reasons", Text, nullable=False, server_default="[]"),
    Column("uploaded_at", BigInteger, nullable=False),
    UniqueConstraint(
        "cicd_id", "namespace", "image_name", "image_version", "manifest_digest", name="uq_security_cicd_images_image"
    ),
)
Index("ix_security_cicd_images_domain_digest", security_cicd_images.c.domain_id, security_cicd_images.c.manifest_digest)
