"""moorage's configuration: the only global. Environment ``MOORAGE_*`` (nested with ``__``) and an
optional TOML file (``MOORAGE_CONFIG``); environment wins over the file, the file over defaults."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import tomllib
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretBytes, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from moorage.settings.scanner import EgressSettings, ScannerSettings
from moorage.settings.sections import (
    AuthSettings,
    ConsoleSettings,
    EnterpriseSettings,
    EventSettings,
    GcSettings,
    HttpSettings,
    JobSettings,
    QuotaSettings,
    RegistrySettings,
    ReplicationSettings,
    RetentionSettings,
    SyncSettings,
    WebhookSettings,
    default_data_dir,
)
from moorage.settings.storage import StorageSettings

AUTO_WORKERS_MAX = 8
"""The most HTTP workers ``workers = 0`` runs, however many CPUs there are."""


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
    database_pool_size: int = Field(default=16, ge=1, le=200)
    """Database connections an HTTP process keeps open once it needed them; four more may open under
    a burst and close after it. Each is a server process on PostgreSQL: with 10 kept, 16 clients
    pushing at once opened and closed connections all along (8% more CPU per 4 KiB blob). SQLite keeps
    one more, for writes."""
    external_url: str = ""
    """How clients reach this registry (``https://registry.example.com``); default from host and port."""
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    """Reverse proxies (comma-separated addresses or CIDR ranges, ``10.0.0.0/8,192.0.2.7``) whose
    ``forwarded_header`` names the client. Empty: trust no header; the TCP peer is the client. Login
    throttling, the access log and address allowlists all use the address found this way."""
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    """The header the trusted proxies write the client address into: ``x-forwarded-for`` or
    ``forwarded`` (RFC 7239). Only this one is read; the other is whatever the client sent."""
    workers: int = Field(default=0, ge=0, le=64)
    """HTTP worker processes for ``moorage serve``; 0: one per CPU this process may run on, at most 8
    (on 2 cores, two workers pushed 4 KiB blobs at 1.4-1.6x the rate of one, on SQLite and PostgreSQL:
    README, Benchmarks). Each is a process of its own (about 150 MiB), with its own caches and metrics."""
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

    @model_validator(mode="after")
    def _accel_needs_the_proxy(self) -> Settings:
        # Only a request from the proxy that resolves X-Accel-Redirect may be answered with one: a
        # client reaching the node directly would get an empty blob.
        if self.storage.accel_redirect_prefix and not self.trusted_proxies:
            raise ValueError(
                "storage.accel_redirect_prefix needs trusted_proxies (MOORAGE_TRUSTED_PROXIES): the address "
                "of the nginx that sends the blobs; other peers get the bytes from moorage"
            )
        return self

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
    def http_workers(self) -> int:
        """The HTTP worker processes ``moorage serve`` runs (``workers``, or the CPUs when 0)."""
        return self.workers or min(len(os.sched_getaffinity(0)), AUTO_WORKERS_MAX)

    @property
    def vulndb_shared(self) -> bool:
        """Whether the advisory database goes to every node through the blob storage."""
        share = self.scanner.vulndb_share
        return share == "storage" or (share == "auto" and self.storage.driver == "s3")

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
