"""moorage's configuration: the only global. Environment ``MOORAGE_*`` (nested with ``__``) and an
optional TOML file (``MOORAGE_CONFIG``); environment wins over the file, the file over defaults."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
import tomllib
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, DOCUMENT_MAX_DEPTH
from moorage.domain.manifests import MAX_MANIFEST_BYTES
from moorage.scanner.limits import DEFAULT_JSON_DEPTH as SCANNER_JSON_DEPTH


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/moorage`` or ``~/.local/share/moorage``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moorage"


class StorageSettings(BaseModel):
    """Where blobs live."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    driver: Literal["filesystem", "s3"] = "filesystem"
    """Storage driver: ``filesystem`` (under ``root``) or ``s3`` (any S3-compatible object store: the
    ``s3_*`` settings; README "S3 storage")."""
    root: Path | None = None
    """Filesystem driver root; default ``<data_dir>/storage``."""
    s3_endpoint: str = ""
    """S3 driver: the object store's URL (``https://s3.example.com``, ``http://127.0.0.1:8333``); empty
    means AWS S3 in ``s3_region``."""
    s3_region: str = "us-east-1"
    """S3 driver: the region requests are signed for (most S3-compatible stores accept any)."""
    s3_bucket: str = ""
    """S3 driver: the bucket (it must exist; moorage never creates or deletes buckets)."""
    s3_prefix: str = ""
    """S3 driver: a key prefix under which moorage keeps everything (``registry/``), so a bucket can
    be shared; empty: the bucket's root."""
    s3_access_key: SecretStr | None = None
    """S3 driver: the access key id. With neither this nor ``s3_access_key_file``, the AWS default
    chain is used (``AWS_*`` environment, shared credentials file, instance role)."""
    s3_access_key_file: Path | None = None
    """S3 driver: a file holding the access key id (a mounted secret); wins over ``s3_access_key``."""
    s3_secret_key: SecretStr | None = None
    """S3 driver: the secret access key; never logged or shown by ``moorage config``."""
    s3_secret_key_file: Path | None = None
    """S3 driver: a file holding the secret access key; wins over ``s3_secret_key``."""
    s3_addressing: Literal["path", "virtual"] = "path"
    """S3 driver: ``path`` (``endpoint/bucket/key``: SeaweedFS, MinIO, Ceph RGW, IP endpoints) or
    ``virtual`` (``bucket.endpoint/key``: AWS S3 and OBS as they prefer it)."""
    s3_verify_tls: bool = True
    """S3 driver: check the object store's TLS certificate (switch off only for a test store)."""
    s3_ca_bundle: Path | None = None
    """S3 driver: a PEM file of CA certificates to check the object store's certificate with (a
    private CA), instead of the system's."""
    s3_redirect: bool = False
    """S3 driver: answer blob GETs with 307 to a presigned URL of the object store, so blob bytes go
    from the store to the client without passing through moorage (clients must reach the endpoint;
    ranges work both ways). Off: moorage streams every blob."""
    s3_redirect_expiry_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    """S3 driver: how long a presigned blob URL stays valid (a client starts its download within it)."""
    s3_part_size: int = Field(default=8 << 20, ge=5 << 20, le=512 << 20)
    """S3 driver: size of the first multipart-upload parts (S3's minimum is 5 MiB); each thousand parts
    doubles it, so 10,000 parts always hold more than ``registry.blob_max_bytes``. Each upload in
    progress holds up to three parts in memory."""
    s3_max_connections: int = Field(default=32, ge=1, le=1024)
    """S3 driver: connections kept open to the object store per process."""

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> StorageSettings:
        if self.driver == "s3" and not self.s3_bucket.strip():
            raise ValueError("the s3 storage driver needs storage.s3_bucket (MOORAGE_STORAGE__S3_BUCKET)")
        return self


class RegistrySettings(BaseModel):
    """OCI registry behaviour and limits."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    manifest_max_bytes: int = MAX_MANIFEST_BYTES
    """Largest manifest accepted (the distribution spec's recommended 4 MiB)."""
    upload_stale_after_seconds: int = 24 * 3600
    """Upload sessions untouched this long are purged."""
    purge_interval_seconds: int = 600
    """How often the purge of stale uploads runs (by one process of one node each time)."""
    upload_lease_seconds: float = Field(default=60.0, ge=1.0, le=3600.0)
    """How long a chunk being received holds its upload session (renewed every third of it while bytes
    arrive). A chunk cut off by a node that died holds the session this long; then any node continues it
    from the last complete chunk."""
    temporary_stale_after_seconds: int = Field(default=3600, ge=60)
    """Files in the storage's temporary folder, and upload data that no session owns (left by a process
    killed mid-write), untouched this long are removed by the purge; a file still being written is
    never removed (its writer holds a lock on it)."""
    page_max: int = 10000
    """Largest page the tags list and catalog return whatever ``n`` asks."""
    namespace_quota: int = Field(default=100, ge=1)
    """Organizations one account may have (per registry instance)."""
    blob_max_bytes: int = Field(default=1 << 40, ge=1 << 20, le=5 << 40)
    """Largest blob a push may store (1 TiB): an upload growing past it is refused with 413. The S3
    driver sizes its multipart parts so that S3's 10,000-part limit is never reached below it."""


class QuotaSettings(BaseModel):
    """Storage and repository-count quotas, enforced on pushes (0: no limit). Each applies per
    registry instance: the shared edition and every Enterprise Edition instance count separately."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    namespace_storage_bytes: int = Field(default=0, ge=0)
    """Bytes one organization (namespace) may hold: each distinct blob its repositories link counts
    once (however many repositories link it), plus the bytes of uploads in progress into it. A push
    that would go past it is refused (OCI ``DENIED``) before its bytes are kept. 0: no limit."""
    namespace_repositories: int = Field(default=0, ge=0)
    """Repositories one organization may have; a push that would create one more is refused. 0: no limit."""
    account_storage_bytes: int = Field(default=0, ge=0)
    """Bytes one account may hold across its organizations (each organization's blobs counted as in
    ``namespace_storage_bytes``: a blob in two organizations counts twice). 0: no limit."""
    account_repositories: int = Field(default=0, ge=0)
    """Repositories one account may have across its organizations. 0: no limit."""


class HttpSettings(BaseModel):
    """The HTTP edge: request sizes, JSON depth, header limits, and who may read the API
    documentation and the metrics."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest request body of every route but blob uploads (manifests have their own limit): 413
    above it, decided from Content-Length before the body is read, or as a chunked body arrives."""
    drain_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    """Bytes of a request body the server reads and drops to keep the connection open when it
    answers without needing the body (an error, a route that takes none); above it the answer
    says ``Connection: close``."""
    max_json_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=2, le=DOCUMENT_MAX_DEPTH)
    """Deepest nesting of arrays and objects accepted in JSON from clients (manifests, request
    bodies); deeper documents are refused with 400 (OCI ``MANIFEST_INVALID``)."""
    max_header_bytes: int = Field(default=64 * 1024, ge=8192, le=16 * 1024 * 1024)
    """Largest request line and headers of one request (uvicorn: 431 above it). granian has its own
    cap of 100 headers and max(this, 408 KiB) of buffered head."""
    stop_timeout_seconds: int = Field(default=30, ge=1, le=3600)
    """On SIGTERM, how long HTTP workers may take to finish their requests and stop before they are
    killed (a worker told to stop while it was still starting may never notice)."""
    api_docs: Literal["auto", "on", "off"] = "auto"
    """Serve ``/docs``, ``/redoc`` and ``/openapi.json``: ``auto`` when every listen address is a
    loopback address."""
    metrics: Literal["auto", "on", "off"] = "auto"
    """Serve ``/metrics``: ``auto`` when every listen address is a loopback address or a metrics
    token is set."""
    metrics_token: SecretStr | None = None
    """When set (16 characters or more), ``/metrics`` answers only requests with
    ``Authorization: Bearer <this>``."""

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Also refuses pydantic's mask ("**********"): a secret that lost its value on the way to a
        # worker process must stop the worker, not become a token anyone can guess.
        if value is not None and len(value.get_secret_value().strip("*")) < 16:
            raise ValueError("metrics_token needs at least 16 characters")
        return value


class AuthSettings(BaseModel):
    """Identity: the first administrator, token lifetimes, login protection."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    region: str = "local-1"
    """The region id of this deployment: each domain has one project named after it."""
    admin_user: str = "admin"
    """Name of the administrator created on first start (also the name of its domain)."""
    admin_password: SecretStr | None = None
    """Its password; when unset, one is generated and printed once."""
    master_key: SecretStr | None = None
    """Base64 of 32 bytes; encrypts secrets at rest and signs tokens. Unset: ``<data_dir>/master.key``
    (generated on first start). Several nodes must share one."""
    token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    """Lifetime of IAM tokens."""
    registry_token_ttl_seconds: int = Field(default=900, ge=30)
    """Lifetime of registry bearer tokens (the Docker token flow)."""
    temporary_login_ttl_seconds: int = Field(default=6 * 3600, ge=60)
    """Lifetime of temporary docker-login commands."""
    allow_anonymous_pull: bool = False
    """Let callers without credentials pull public repositories."""
    password_hash_time_cost: int = Field(default=3, ge=1, le=20)
    """argon2id passes over memory for each new password hash (and each password check of a new hash)."""
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=1024, le=4 * 1024 * 1024)
    """argon2id memory per hash, in KiB (64 MiB: RFC 9106's second recommended option). Lower it only
    on a machine that cannot spare it; every hash keeps its own parameters, so existing passwords
    still verify after a change."""
    password_hash_parallelism: int = Field(default=4, ge=1, le=64)
    """argon2id lanes (threads) per hash."""
    login_failures_per_window: int = Field(default=10, ge=1)
    """Failed logins one user name may have from one client address before that pair must wait
    (429 with ``Retry-After``): the wait starts at ``login_backoff_seconds`` and doubles with each
    further failure. Another address, and a right password from it, is not held back."""
    login_failure_window_seconds: int = Field(default=900, ge=1)
    """How long failed logins are remembered after the last one; then the count starts again."""
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    """The first wait once a user and address have used their free failures."""
    login_backoff_max_seconds: int = Field(default=300, ge=1)
    """The longest wait between two attempts of one user name from one address."""
    login_user_failures_per_window: int = Field(default=100, ge=1)
    """Failed logins of one user name from every address together before all its logins must wait
    (slows a brute force spread over many addresses; the count is shared by every node)."""
    login_user_backoff_max_seconds: int = Field(default=30, ge=1)
    """The longest wait the per-user bound imposes between two attempts of that user name from any
    address: a spread-out brute force gets one guess per this many seconds, and the real user may
    have to wait as long (a delay, never a lock)."""
    login_repeat_seconds: float = Field(default=10.0, ge=0)
    """The same wrong credentials from the same address within this time count as one failed login
    (containerd sends its token request by POST, then again by GET)."""
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    """Lifetime of registry refresh tokens (``offline_token=true`` on ``GET /service/token``,
    ``access_type=offline`` on ``POST``). They stop working at once when their user is disabled or
    deleted, its password changes, or the access key they came from is disabled or deleted."""
    registry_service: str = "moorage"
    """The ``service`` of registry bearer tokens."""
    sdk_signature_max_age_seconds: int = Field(default=900, ge=1, le=3600)
    """How old an SDK signature's ``X-Sdk-Date`` may be (the SDKs' 15 minutes). Signatures are
    remembered that long in the database (shared by every node) and refused once replayed."""
    sdk_signature_max_ahead_seconds: int = Field(default=300, ge=0, le=3600)
    """How far in the future an SDK signature's ``X-Sdk-Date`` may be (client clocks that run fast)."""
    sdk_signature_repeat_seconds: float = Field(default=5.0, ge=0, le=60)
    """For this long after its first use, the same signature is accepted again: requests signed
    within one second are byte for byte the same (X-Sdk-Date has one-second resolution), so an
    SDK retry, a poll or a write repeated in a loop looks like a replay. Later, it is refused."""


class JobSettings(BaseModel):
    """The job queue and its workers."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    embedded_worker: bool = True
    """``moorage serve`` starts a worker process beside the HTTP server."""
    threads: int = Field(default=2, ge=1, le=64)
    """Jobs one worker process runs at once."""
    lease_seconds: int = Field(default=60, ge=5)
    """A running job's lease; a worker renews it while alive, another worker takes over when it lapses."""
    recover_interval_seconds: int = Field(default=15, ge=1)
    """How often jobs to recover (dead workers, lost messages) are looked for, by one of the workers each time."""
    stale_pending_seconds: int = Field(default=120, ge=5)
    """A pending job not picked up for this long is enqueued again."""


class EnterpriseSettings(BaseModel):
    """Enterprise Edition instances and image signing."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    host_cache_seconds: float = Field(default=2.0, ge=0)
    """How long a node keeps the directory of instance host names (changes made on other nodes are
    seen after at most this long)."""
    schedule_interval_seconds: int = Field(default=10, ge=1)
    """How often the schedules of signature policies, retention policies and the shared edition's
    retentions are checked."""
    sign_pause_ms: int = Field(default=0, ge=0, le=60_000)
    """A pause between two signatures of an execution (throttles large executions)."""
    long_term_credentials_per_user: int = Field(default=20, ge=1, le=10_000)
    """Long-term registry credentials (CreateInstanceLtCredential) a user may hold per instance."""
    temporary_credentials_per_user: int = Field(default=100, ge=1, le=100_000)
    """Unexpired temporary registry credentials (CreateInstanceTempCredential) a user may hold per instance."""
    temporary_credential_ttl_seconds: int = Field(default=6 * 3600, ge=1)
    """Lifetime of an instance's temporary registry credential (SWR: 6 hours)."""
    allowed_domain_suffixes: str = ""
    """The domain names instances may claim, comma-separated: DNS suffixes (an instance may use names
    and wildcards strictly below ``tenants.example.com``) and IP addresses (dedicated to instances,
    even when moorage listens on them). Empty: none, instances have only their generated default
    name ``<instance>.<registry host>``. The registry's own names (external and internal host, listen
    addresses not listed here, every spelling of localhost) are never allowed."""

    @field_validator("allowed_domain_suffixes", mode="before")
    @classmethod
    def _suffix_list(cls, value: Any) -> Any:
        from moorage.domain.hosts import parse_allowlist

        text = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else value
        if isinstance(text, str):
            parse_allowlist(text)  # ValueError: a clear message at start-up
        return text


class GcSettings(BaseModel):
    """Garbage collection: what is garbage, when it goes, how a run paces itself."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    grace_seconds: int = Field(default=24 * 3600, ge=0)
    """A blob no manifest references is deleted only once no push has used it (stored, linked, mounted, or
    found by a HEAD or GET) for this long; an untagged manifest only once it is this old. A HEAD or GET
    marks the blob used again once its last use is half this old: a push in flight has at least half
    this long between finding a blob and pushing the manifest that needs it."""
    delete_untagged: bool = False
    """Garbage collection of the shared registry also deletes untagged manifests older than the grace
    period that no tag reaches through an index or a ``subject`` (``moorage gc --delete-untagged`` for one
    run). Enterprise instances choose for themselves (their GC schedule's ``delete_untagged``)."""
    upload_expiry_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    """Upload sessions untouched this long, and upload data no session owns, are removed by garbage
    collection with their bytes."""
    schedule: str = "0 0 3 * * *"
    """When the job worker collects the whole registry: a six-field cron expression (second minute hour
    day month weekday, UTC). Empty: never (``moorage gc`` still works)."""
    schedule_check_seconds: int = Field(default=30, ge=1)
    """How often the job worker looks at the GC schedules (the registry's and each instance's)."""
    batch_size: int = Field(default=100, ge=1, le=10_000)
    """Blobs (and manifests) checked and deleted per transaction; pushes wait for at most one batch."""
    workers: int = Field(default=2, ge=1, le=5)
    """Storage deletions in flight at once, for runs that do not choose (the GC API's ``workers``)."""
    pause_ms: int | None = Field(default=None, ge=0, le=60_000)
    """A pause after each batch that deleted something, so that pushes waiting for the database get in
    (and a large collection does not hog busy storage). Unset: 100 ms on SQLite, whose waiting writers poll
    its one write lock that often; none on PostgreSQL, where they queue."""
    orphan_scan: bool = True
    """List storage for blob files no metadata knows (left by a process killed mid-push) and remove them
    once older than the grace period; off for stores where listing costs too much."""
    log_max_lines: int = Field(default=2000, ge=10, le=1_000_000)
    """Lines kept of one run's log (``show_gc_task``); its summary line is always kept."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from moorage.domain.cron import CronSchedule
        from moorage.domain.errors import Invalid

        if value.strip():
            try:
                CronSchedule.parse(value)
            except Invalid as error:
                raise ValueError(error.message) from None  # a clear message at start-up
        return value.strip()


OSV_ZIPS = "https://osv-vulnerabilities.storage.googleapis.com"
OSV_DEFAULT_ECOSYSTEMS = (
    "PyPI",
    "npm",
    "Go",
    "Maven",
    "crates.io",
    "RubyGems",
    "Packagist",
    "NuGet",
    "Ubuntu",
    "AlmaLinux",
    "Rocky Linux",
    "Wolfi",
    "Chainguard",
)
"""osv.dev zips fetched by default: the language ecosystems, and the distributions that have no feed
of their own here (Debian, Alpine and Red Hat come from their vendors' feeds)."""
ALPINE_DEFAULT_BRANCHES = ("v3.20", "v3.21", "v3.22", "v3.23")
NVD_FIRST_YEAR = 2002


def default_vulndb_sources() -> list[str]:
    """The public feeds docs/vulnerability-database.md describes, as ``KIND:URL`` sources: osv.dev's
    zips, the Debian security tracker, Alpine secdb per branch and repository, Red Hat's newest CSAF
    VEX archive, and NVD's yearly CVE feeds up to this year."""
    osv = [f"osv:{OSV_ZIPS}/{name.replace(' ', '%20')}/all.zip" for name in OSV_DEFAULT_ECOSYSTEMS]
    alpine = [
        f"alpine:https://secdb.alpinelinux.org/{branch}/{repository}.json"
        for branch in ALPINE_DEFAULT_BRANCHES
        for repository in ("main", "community")
    ]
    nvd = [
        f"nvd:https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-{year}.json.gz"
        for year in range(NVD_FIRST_YEAR, datetime.now(UTC).year + 1)
    ]
    return [
        *osv,
        "debian:https://security-tracker.debian.org/tracker/data/json",
        *alpine,
        "redhat:https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt",
        *nvd,
    ]


_SOURCE_KIND = re.compile(r"^[a-z]+:\S")


class ScannerSettings(BaseModel):
    """Image security in the registry: the advisory database, scan triggers, limits, the layer cache."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    vulndb_path: Path | None = None
    """The advisory database (``moorage vulndb build/update/import`` writes it). Default
    ``<data_dir>/vulndb.sqlite``. When its build time changes, stored inventories are re-matched."""
    vulndb_sources: Annotated[list[str], NoDecode] = Field(default_factory=default_vulndb_sources)
    """Advisory sources (``KIND:URL_OR_PATH``) a worker builds that database from, in the background:
    when there is none (first start), then every ``VULNDB_REFRESH_SECONDS``. A JSON list or a
    comma-separated string. Default: osv.dev's zips (PyPI, npm, Go, Maven, crates.io, RubyGems,
    Packagist, NuGet, Ubuntu, AlmaLinux, Rocky Linux, Wolfi, Chainguard), the Debian security
    tracker, Alpine secdb (v3.20-v3.23, main and community), Red Hat's newest CSAF VEX archive and
    NVD's yearly feeds (``moorage config`` prints the list). Empty: never fetched (manage the file
    with ``moorage vulndb``)."""
    vulndb_refresh_seconds: int = Field(default=86400, ge=0)
    """Age at which a worker builds the advisory database again from ``VULNDB_SOURCES``; 0: build it
    only when there is none."""
    vulndb_retry_seconds: int = Field(default=300, ge=1)
    """Wait after a failed (or partial) build before the next try; it doubles with each failure in a
    row, up to ``VULNDB_RETRY_MAX_SECONDS``."""
    vulndb_retry_max_seconds: int = Field(default=6 * 3600, ge=1)
    """Longest wait between two tries of a failing build."""
    scan_on_push: bool = False
    """Scan every image pushed with a tag (the global policy; an organization's policy overrides it)."""
    max_image_bytes: int = Field(default=10 * 1024**3, ge=1)
    """Images larger than this (config and layers) are not scanned: ``image_over_sized``. Checked on the
    sizes the manifest declares before any layer is read, and on the bytes actually downloaded from
    an external registry (each layer also stops at its declared size)."""
    max_layers: int = Field(default=128, ge=1)
    """Images with more layers are not scanned: ``image_layer_over_sized``."""
    max_layer_uncompressed_bytes: int = Field(default=16 * 1024**3, ge=1)
    """A layer inflating to more than this (a decompression bomb) fails its scan: ``image_over_sized``."""
    max_image_uncompressed_bytes: int = Field(default=32 * 1024**3, ge=1)
    """An image whose layers inflate to more than this together fails its scan: ``image_over_sized``."""
    max_layer_members: int = Field(default=1_000_000, ge=1)
    """A layer listing more files than this fails its scan: ``image_over_sized``."""
    max_image_members: int = Field(default=2_000_000, ge=1)
    """An image whose layers list more files than this together fails its scan: ``image_over_sized``."""
    max_file_bytes: int = Field(default=256 * 1024**2, ge=1)
    """The most of one file a scan reads into memory; larger files are skipped (and reported)."""
    max_archive_depth: int = Field(default=4, ge=1)
    """Archives nested deeper than this in a jar, war or ear are skipped (and reported)."""
    max_archive_members: int = Field(default=100_000, ge=1)
    """A jar, war or ear (nested ones included) listing more members than this is skipped (and reported)."""
    max_archive_bytes: int = Field(default=256 * 1024**2, ge=1)
    """The most bytes inflated out of one jar, war or ear (nested ones included); the rest is skipped."""
    max_json_depth: int = Field(default=SCANNER_JSON_DEPTH, ge=2, le=DOCUMENT_MAX_DEPTH)
    """Deepest nesting of JSON read out of an image: a package database nested deeper (``package.json``,
    ``package-lock.json``, Composer's ``installed.json``, cargo-auditable data) is skipped (and reported)."""
    layer_cache: str = "database"
    """Where layer analyses are kept: ``database`` (shared by every worker and node), ``directory``,
    ``memory`` or ``none``."""
    layer_cache_dir: Path | None = None
    """Directory of the ``directory`` layer cache; default ``<data_dir>/layer-cache``."""
    analysis_executor: str = "thread"
    """How a scan reads the layers it lacks in parallel: ``process``, ``thread`` or ``serial``."""
    analysis_workers: int = Field(default=0, ge=0, le=64)
    """Parallel layer readers of one scan; 0: one per core."""
    periodic_interval_seconds: int = Field(default=60, ge=1)
    """How often due scheduled scans and a new advisory database are looked for, by one of the workers each time."""
    sync_max_images: int = Field(default=20000, ge=1)
    """Tags one synchronisation of an external registry records at most."""
    remote_timeout_seconds: float = Field(default=60.0, gt=0)
    """Timeout of each request to an external registry."""
    pull_policy_cache_seconds: float = Field(default=1.0, ge=0)
    """How long a node keeps an organization's pull policy and an image's scan state before reading
    them again: a policy change or a new scan applies to pulls within this time."""

    cicd_credential_ttl_seconds: int = Field(default=3600, ge=60, le=30 * 86400)
    """Lifetime of the scan-upload credential a CI/CD command carries (``CreateCicdConfigurationCommand``):
    it can upload results for its configuration and nothing else; generate a new command when it expires."""
    cicd_upload_max_bytes: int = Field(default=16 * 1024**2, ge=1024)
    """Largest scan result a pipeline may upload (the JSON report of ``moorage scan``); larger is refused (413)."""
    cicd_upload_concurrency: int = Field(default=2, ge=1, le=64)
    """Uploads one node parses and matches at once (each holds its report in memory, about eight
    times its size at the largest); the others wait their turn."""
    cicd_max_configurations: int = Field(default=1000, ge=1)
    """CI/CD configurations one account may have."""

    @field_validator("vulndb_sources", mode="before")
    @classmethod
    def _source_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part for part in re.split(r"[,\s]+", value) if part]
        return value

    @field_validator("vulndb_sources")
    @classmethod
    def _source_shape(cls, value: list[str]) -> list[str]:
        for source in value:
            if not _SOURCE_KIND.match(source):
                raise ValueError(f"{source!r}: a source is KIND:URL_OR_PATH, e.g. osv:https://.../PyPI/all.zip")
        return value

    @field_validator("layer_cache")
    @classmethod
    def _known_cache(cls, value: str) -> str:
        if value not in ("database", "directory", "memory", "none"):
            raise ValueError("layer_cache must be one of database, directory, memory, none")
        return value

    @field_validator("analysis_executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        if value not in ("process", "thread", "serial"):
            raise ValueError("analysis_executor must be one of process, thread, serial")
        return value


class EgressSettings(BaseModel):
    """Connections the server makes on a tenant's behalf (HSS external registries: the check when one
    is added, synchronisation, scans; webhook and trigger deliveries): where they may go, where
    credentials may go, how much is read."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    allow_networks: str = ""
    """Comma-separated networks (CIDR) tenants' connections may reach although loopback, private,
    link-local or otherwise internal (``10.20.0.0/16,fd00:1::/64``): internal registries and webhook
    receivers. Every other
    internal address is refused after name resolution, on every redirect and token realm."""
    allow_hosts: str = ""
    """Comma-separated host names (``registry.corp``, ``*.corp`` for a suffix) tenants' connections
    may reach whatever addresses they resolve to."""
    credential_realm_hosts: str = ""
    """Comma-separated hosts besides the registry's own whose Bearer token realm may receive a
    registry's credentials (Docker Hub needs ``auth.docker.io``); elsewhere the token is asked for
    without them."""
    max_redirects: int = Field(default=5, ge=0, le=20)
    """Redirects followed per request (http and https only)."""
    max_json_bytes: int = Field(default=16 << 20, ge=64 << 10)
    """Largest JSON answer read from a registry (tag lists, catalogs, Harbor and Artifactory pages);
    manifests and configs are capped at 4 MiB, token answers at 1 MiB, error bodies at 64 KiB."""
    max_json_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=8, le=512)
    """Deepest nesting of a JSON answer read from a registry: manifests, image configs, listings,
    token answers."""

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        from moorage.clients.egress import parse_networks

        parse_networks(value)
        return value

    @field_validator("allow_hosts", "credential_realm_hosts")
    @classmethod
    def _hosts(cls, value: str) -> str:
        from moorage.clients.egress import parse_host_names

        parse_host_names(value)
        return value


class RetentionSettings(BaseModel):
    """Retention: when the shared edition's retentions run, and what a run leaves alone."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    schedule: str = "0 0 0 * * *"
    """When every retention of the shared edition runs again (each also runs once when it is created or
    changed): a six-field cron expression (second minute hour day month weekday, UTC); the default is
    daily at midnight UTC. Empty: only on creation and change. Enterprise Edition policies carry
    their own schedules."""
    untagged_grace_seconds: int = Field(default=3600, ge=0)
    """An untagged artifact is a candidate of an Enterprise Edition rule that selects untagged artifacts
    only once it is this old: the platform manifests of a multi-architecture image are pushed before
    the index that lists them."""
    log_max_entries: int = Field(default=10_000, ge=100, le=10_000_000)
    """Entries of a repository's retention log (``ListRetentionHistories``) kept; older ones are
    deleted after each run."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from moorage.domain.cron import CronSchedule
        from moorage.domain.errors import Invalid

        if value.strip():
            try:
                CronSchedule.parse(value)
            except Invalid as error:
                raise ValueError(error.message) from None  # a clear message at start-up
        return value.strip()


class EventSettings(BaseModel):
    """The event stream: audit records, their retention, and the dispatcher that hands events to
    webhooks and triggers (docs/events.md)."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    audit_retention_days: int = Field(default=90, ge=1, le=36500)
    """Days audit records (every event: pushes, pulls, deletes, management changes, scans, logins) and
    webhook delivery records are kept; a periodic job removes older ones."""
    prune_interval_seconds: int = Field(default=3600, ge=10)
    """How often the job that removes audit and delivery records past their retention is queued."""
    dispatch_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often each worker's dispatcher looks for new events (one indexed read when there are none)."""
    dispatch_batch: int = Field(default=500, ge=1, le=10000)
    """Events one dispatcher transaction hands over at most."""
    record_pulls: bool = True
    """Record manifest pulls as events (batched with the pull counters, written every
    ``buffer_flush_seconds``: a crash loses at most that many seconds of pull records)."""
    buffer_flush_seconds: float = Field(default=5.0, gt=0, le=300)
    """How often pull counters, pull events and successful-login events gathered in memory are written."""
    buffer_max_events: int = Field(default=50000, ge=100)
    """Pull and login events held in memory between two writes at most; past it the oldest are dropped
    (and counted in the log), so a flood of pulls cannot grow a process without bound."""
    quota_refusal_repeat_seconds: float = Field(default=60.0, ge=0, le=86400)
    """A push a quota refused is recorded (``QUOTA_EXCEED``) at most once per repository and reason in
    this many seconds: a client retrying would otherwise fill the audit log."""


class WebhookSettings(BaseModel):
    """Deliveries of webhook policies (Enterprise Edition) and webhook triggers (shared edition).
    Receivers are reached under the egress policy (``MOORAGE_EGRESS__*``)."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Seconds one delivery attempt may take (connect, send, answer) before it counts as failed."""
    max_attempts: int = Field(default=5, ge=1, le=50)
    """Attempts of one delivery before it is recorded failed (network errors, timeouts, 408, 429, 5xx
    are retried; other answers fail at once)."""
    retry_base_seconds: float = Field(default=2.0, gt=0, le=3600)
    """The wait after the first failed attempt; it doubles after each further one."""
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    """The longest wait between two attempts."""


class SyncPeer(BaseModel):
    """A peer moorage site image synchronisation pushes to (SWR's "region")."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    region_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    """The name rules refer to it by (``remoteRegionId``)."""
    url: str = Field(min_length=1, max_length=2048, pattern=r"^https?://[^/@\s]+/?$")
    """The peer's registry address, ``https://host[:port]`` (``http://`` for plain HTTP)."""
    username: str = Field(default="", max_length=255)
    """The peer account that receives the images (its namespaces are the rules' ``remoteNamespace``)."""
    password: SecretStr = SecretStr("")
    """Its password (a secret: never logged, never answered)."""
    verify_tls: bool = True
    """Check the peer's TLS certificate."""


class SyncSettings(BaseModel):
    """Shared-edition image synchronisation to peer moorage sites (SWR's CreateImageSyncRepo and
    siblings). Peers are reached under the egress policy (``MOORAGE_EGRESS__*``)."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    peers: list[SyncPeer] = Field(default_factory=list)
    """JSON list of peer sites: ``[{"region_id": "eu-2", "url": "https://registry.eu-2.corp",
    "username": "sync", "password": "…", "verify_tls": true}]``."""
    max_attempts: int = Field(default=5, ge=1, le=50)
    """Attempts of one sync job (one tag to one peer) before it is recorded failed."""
    retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    """The wait after a failed attempt; it doubles after each further one (at most 10 minutes)."""
    bandwidth_limit_bytes: int = Field(default=0, ge=0)
    """Bytes per second one sync job may send (0: no limit)."""
    chunk_bytes: int = Field(default=0, ge=0, le=1 << 30)
    """Send blobs to peers in chunks of this many bytes (0: one streamed upload per blob)."""

    @field_validator("peers")
    @classmethod
    def _unique(cls, value: list[SyncPeer]) -> list[SyncPeer]:
        ids = [p.region_id for p in value]
        if len(ids) != len(set(ids)):
            raise ValueError("two peers have the same region_id")
        return value


class ConsoleSettings(BaseModel):
    """The web console under ``/console/`` (docs/console.md): browser sessions on the IAM users'
    passwords, with the same permissions and login throttle as the APIs."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    enabled: bool = True
    """Serve the web console (and redirect a browser's ``/`` to it)."""
    session_seconds: int = Field(default=28800, ge=60, le=7 * 86400)
    """How long a console sign-in lasts; the session is then refused and the user signs in again."""
    page_size: int = Field(default=50, ge=5, le=500)
    """Rows one console list page shows (tags, repositories, findings): a page reads no more rows."""


class ReplicationSettings(BaseModel):
    """Enterprise Edition replication (CreateInstanceReplicationPolicy and its siblings). Registries
    are reached under the egress policy (``MOORAGE_EGRESS__*``)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    max_artifacts_per_execution: int = Field(default=10_000, ge=1, le=1_000_000)
    """Artifacts (tags) one execution plans at most; the rest waits for the next run."""
    max_registries: int = Field(default=100, ge=1, le=10_000)
    """Replication registries one instance may have."""
    max_policies: int = Field(default=100, ge=1, le=10_000)
    """Replication policies one instance may have."""
    chunk_bytes: int = Field(default=8 << 20, ge=64 << 10, le=1 << 30)
    """Bytes per upload chunk of a policy with ``copy_by_chunk``."""
    parallel_artifacts: int = Field(default=4, ge=1, le=64)
    """Artifacts one execution copies at once (its bandwidth limit is shared by all of them)."""


class Settings(BaseSettings):
    """Everything configurable. See README's Configuration section for the list."""

    # hide_input_in_errors: a refused value may be a secret (a master key, a password in a URL).
    model_config = SettingsConfigDict(
        env_prefix="MOORAGE_",
        env_nested_delimiter="__",
        extra="ignore",
        use_attribute_docstrings=True,
        hide_input_in_errors=True,
    )

    host: str = "127.0.0.1"
    """Address(es) to listen on, comma-separated (``127.0.0.1,127.0.0.5``); the first one names the
    registry in the default external URL."""
    port: int = Field(default=5000, ge=1, le=65535)
    """TCP port to listen on."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Data directory: SQLite database, blobs (filesystem driver), the master key, the job queue file.
    Default ``$XDG_DATA_HOME/moorage`` or ``~/.local/share/moorage``."""

    database_url: str = ""
    """SQLAlchemy URL; default SQLite in the data directory. PostgreSQL: ``postgresql://user:pass@host/db``."""
    external_url: str = ""
    """How clients reach this registry (``https://registry.example.com``); default from host and port."""
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    """Reverse proxies (comma-separated addresses or CIDR ranges, ``10.0.0.0/8,192.0.2.7``) whose
    ``forwarded_header`` names the client. Empty: trust no header; the TCP peer is the client. Login
    throttling, the access log and address allowlists all use the address found this way."""
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    """The header the trusted proxies write the client address into: ``x-forwarded-for`` or
    ``forwarded`` (RFC 7239). Only this one is read; the other is whatever the client sent."""
    workers: int = Field(default=1, ge=1, le=64)
    """HTTP worker processes for ``moorage serve``."""
    server: Literal["granian", "uvicorn"] = "granian"
    """The HTTP server under ``moorage serve``."""

    umask: str = "0077"
    """File-mode creation mask (octal) of ``serve``, ``worker`` and ``admin``: ``0077`` makes the data
    directory 0700 and the databases, blobs, uploads and key files 0600; ``0027`` lets the group read.
    The owner's bits cannot be masked."""
    log_level: str = "info"
    """Python log level name."""
    access_log: bool = True
    """One JSON log line per request."""
    internal_url: str = ""
    """The address image paths use inside the site (SWR's ``internal_path``); default the external one."""
    storage: StorageSettings = Field(default_factory=StorageSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    quota: QuotaSettings = Field(default_factory=QuotaSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    enterprise: EnterpriseSettings = Field(default_factory=EnterpriseSettings)
    gc: GcSettings = Field(default_factory=GcSettings)
    scanner: ScannerSettings = Field(default_factory=ScannerSettings)
    egress: EgressSettings = Field(default_factory=EgressSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)

    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    replication: ReplicationSettings = Field(default_factory=ReplicationSettings)
    redis_url: str = ""
    """Redis for the job queue (and other shared state) when several nodes run; empty: SQLite queue file."""

    @field_validator("umask", mode="before")
    @classmethod
    def _octal_umask(cls, value: object) -> str:
        """``"0027"``, ``"027"``, ``"0o027"`` or a TOML integer (``0o027``), kept as four octal digits."""
        if isinstance(value, int) and not isinstance(value, bool):
            bits = value
        elif isinstance(value, str):
            try:
                bits = int(value.strip(), 8)
            except ValueError as exc:
                raise ValueError("umask must be an octal number such as 0077") from exc
        else:
            raise ValueError("umask must be an octal number such as 0077")
        if not 0 <= bits <= 0o777 or bits & 0o700:
            raise ValueError("umask must be between 0000 and 0077 (moorage must read and write its own files)")
        return f"{bits:04o}"

    @property
    def umask_bits(self) -> int:
        """``umask`` as a number for ``os.umask``."""
        return int(self.umask, 8)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        """``"10.0.0.0/8, 192.0.2.7"`` (environment, TOML) or a list: networks; a bare address is a
        one-address network, host bits are allowed (``10.1.2.3/8`` is ``10.0.0.0/8``)."""
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            return value
        try:
            return tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip())
        except ValueError as error:
            raise ValueError(f"trusted_proxies: {error}") from error

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError("log_level must be one of debug, info, warning, error, critical")
        return value.lower()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit arguments, then environment, then the TOML file."""
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def fingerprint(self, salt: bytes) -> str:
        """A keyed digest of every value, secrets included (their text, not their mask): a process that
        ``moorage serve`` starts compares it with its parent's to know it read the same configuration,
        while the secrets themselves never leave the environment or the file they came from."""

        def reveal(value: Any) -> Any:
            if isinstance(value, SecretStr | SecretBytes):
                return reveal(value.get_secret_value())
            if isinstance(value, bytes):
                return value.hex()
            if isinstance(value, dict):
                return {str(k): reveal(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [reveal(v) for v in value]
            if isinstance(value, set | frozenset):
                return sorted((reveal(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str))
            return value

        canonical = json.dumps(reveal(self.model_dump()), sort_keys=True, default=str)
        return hmac.new(salt, canonical.encode(), hashlib.sha256).hexdigest()

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'moorage.db'}"

    @property
    def vulndb_path(self) -> Path:
        """The advisory database file the registry's scans use."""
        return self.scanner.vulndb_path or self.data_dir / "vulndb.sqlite"

    @property
    def storage_root(self) -> Path:
        """Filesystem storage root."""
        return self.storage.root or self.data_dir / "storage"

    @property
    def listen_hosts(self) -> list[str]:
        """The addresses ``moorage serve`` listens on, in order, without duplicates."""
        hosts = [h.strip() for h in self.host.split(",") if h.strip()]
        return list(dict.fromkeys(hosts)) or ["127.0.0.1"]

    @property
    def resolved_external_url(self) -> str:
        """The registry's external base URL, without a trailing slash."""
        if self.external_url:
            return self.external_url.rstrip("/")
        first = self.listen_hosts[0]
        host = "127.0.0.1" if first in ("0.0.0.0", "::", "") else first  # noqa: S104
        if ":" in host:  # an IPv6 address is written in brackets in a URL (RFC 3986)
            host = f"[{host.strip('[]')}]"
        return f"http://{host}:{self.port}"

    @property
    def loopback_only(self) -> bool:
        """Whether every listen address is a loopback address (so only this machine can connect)."""
        return all(_is_loopback(host) for host in self.listen_hosts)

    @property
    def api_docs_enabled(self) -> bool:
        """Whether ``/docs``, ``/redoc`` and ``/openapi.json`` are served."""
        return self.http.api_docs == "on" or (self.http.api_docs == "auto" and self.loopback_only)

    @property
    def metrics_enabled(self) -> bool:
        """Whether ``/metrics`` is served (with the metrics token when one is set)."""
        return self.http.metrics == "on" or (
            self.http.metrics == "auto" and (self.loopback_only or self.http.metrics_token is not None)
        )

    @property
    def registry_host(self) -> str:
        """``host[:port]`` of the external URL: what image references and ``docker login`` use."""
        return self.resolved_external_url.split("://", 1)[-1]

    @property
    def internal_host(self) -> str:
        """``host[:port]`` of the internal URL."""
        return (self.internal_url.rstrip("/") or self.resolved_external_url).split("://", 1)[-1]


def _is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8, ``::1`` (and its IPv4-mapped spellings)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class _TomlSource(PydanticBaseSettingsSource):
    """Settings from the TOML file named by ``MOORAGE_CONFIG`` (absent: nothing)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("MOORAGE_CONFIG")
        if not path:
            return {}
        with open(path, "rb") as f:
            return tomllib.load(f)


def settings_reference() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, for ``moorage config`` and
    the README's configuration table."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name.upper()}__")
                continue
            if field.default_factory is not None:
                default = "(see description)"
            elif field.default is None or field.default in ("", ()):
                default = ""
            else:
                default = str(field.default).lower() if isinstance(field.default, bool) else str(field.default)
            description = " ".join((field.description or "").split())
            rows.append((f"{prefix}{name.upper()}", default, description))

    walk(Settings, "MOORAGE_")
    return rows


def settings_markdown() -> str:
    """The settings reference as a Markdown table."""
    lines = ["| environment variable | default | what it is |", "| --- | --- | --- |"]
    for env, default, text in settings_reference():
        lines.append(f"| `{env}` | {f'`{default}`' if default else ''} | {text} |")

    return "\n".join(lines) + "\n"
