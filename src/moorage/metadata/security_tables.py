"""Image security's tables (HSS): connected registries, images, scan results, vulnerabilities and
findings, layer analyses, scan and sync tasks, policies, the per-account state of the detail queries
(handling, whitelists, exports) and the packages index. Kept apart from ``tables.py`` (imported at
its end, on the same ``metadata``; re-exported there, so queries import every table from
``tables``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from moorage.metadata.tables import DIGEST, Id, metadata

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
