"""Tables of issue 19's Enterprise Edition part (migration 0017): instance access credentials,
endpoint policies, resource tags of instances and namespaces, and deleted instance jobs.

Kept apart from ``tables.py`` (imported at its end, on the same ``metadata``) so that file does not
grow further.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, String, Table, Text

from moorage.metadata.tables import metadata

ee_credentials = Table(
    "ee_credentials",
    metadata,
    # Long-term and temporary registry credentials of an instance. Only a keyed hash of the secret is
    # kept (the secret is shown once, at creation); every use reads the row, so disabling or deleting
    # one refuses its next request on every node.
    Column("id", String(32), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # long-term | temporary
    Column("name", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, server_default="0"),  # epoch ms; 0: never
)
Index("ix_ee_credentials_instance_user", ee_credentials.c.instance_id, ee_credentials.c.user_id)
Index("ix_ee_credentials_expires", ee_credentials.c.kind, ee_credentials.c.expires_at)

ee_endpoint_policies = Table(
    "ee_endpoint_policies",
    metadata,
    # The public endpoint of an instance: off, or on with an allowlist of networks (empty: any address).
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("ip_list", Text, nullable=False, server_default="[]"),  # [{"ip": CIDR, "description": ...}]
    Column("updated_at", BigInteger, nullable=False),
)

ee_instance_tags = Table(
    "ee_instance_tags",
    metadata,
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(255), nullable=False, server_default=""),
)

ee_namespace_tags = Table(
    "ee_namespace_tags",
    metadata,
    Column("namespace_id", BigInteger, ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
    Column("value", String(255), nullable=False, server_default=""),
)
Index("ix_ee_namespace_tags_instance", ee_namespace_tags.c.instance_id)

ee_deleted_jobs = Table(
    "ee_deleted_jobs",
    metadata,
    # Instance jobs a user deleted (DeleteInstanceJob): the listing leaves them out.
    Column("job_id", String(64), primary_key=True),
    Column("instance_id", String(64), ForeignKey("instances.id", ondelete="CASCADE"), nullable=False),
)
