"""The sections of moorage's settings (``MOORAGE_<SECTION>__<NAME>``) but the scanner's and egress's
(``scanner.py``) and storage's (``storage.py``); the root ``Settings`` that holds them is in
``__init__.py``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, DOCUMENT_MAX_DEPTH
from moorage.domain.manifests import MAX_MANIFEST_BYTES


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/moorage`` or ``~/.local/share/moorage``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moorage"


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
    warning_percent: int = Field(default=85, ge=0, le=100)
    """A push that takes an organization's or account's stored bytes (with uploads in progress) from
    below this share of its storage quota to at least it is recorded as a quota warning (Harbor's
    ``QUOTA_WARNING`` webhook), once per crossing. 0: no warnings."""


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
