"""The scanner's settings (vulnerability database sources, limits) and the egress policy of
outbound connections; sections of the root ``Settings`` (``__init__.py``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

from moorage.domain.bounded_json import DEFAULT_MAX_DEPTH, DOCUMENT_MAX_DEPTH
from moorage.scanner.limits import DEFAULT_JSON_DEPTH as SCANNER_JSON_DEPTH

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
    vulndb_share: Literal["auto", "storage", "off"] = "auto"
    """How nodes without a shared filesystem get the same advisory database: ``storage`` publishes each
    build to the blob storage and every process fetches it from there (checked each
    ``PERIODIC_INTERVAL_SECONDS``); ``off``: each node reads its own ``VULNDB_PATH``; ``auto``:
    ``storage`` with the S3 driver, ``off`` with the filesystem one."""
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
    """How long a node keeps an organization's policy (its pull policy and whether pushes are scanned)
    and an image's scan state before reading them again: a policy change or a new scan applies to pulls
    and pushes within this time (a change through the API applies at once on the node that made it)."""

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
