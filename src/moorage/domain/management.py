"""What the SWR management API lists and shows: repositories with their counters, tags with their
manifests, accessories, shares and an account's usage; and the filters those listings take. The
queries return them, the services pass them on, the handlers shape them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RepositoryDetail:
    """One repository with everything the management API says about it."""

    id: int
    namespace_id: int
    namespace: str
    name: str
    """Name inside the namespace (may contain ``/``)."""
    domain_id: str | None
    domain_name: str
    is_public: bool
    category: str
    description: str
    size: int
    """Bytes of the blobs the repository links (each counted once)."""
    tag_count: int
    download_count: int
    download_bytes: int
    creator_id: str
    creator_name: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RepositoryFilter:
    """Which repositories a listing covers. ``None`` fields do not filter."""

    domain_id: str
    """Only repositories of this account's namespaces."""
    namespace_ids: frozenset[int] | None = None
    """When set (a non-administrator), only these namespaces' repositories..."""
    repository_ids: frozenset[int] | None = None
    """...or these repositories. Both None: the whole account."""
    namespace_contains: str | None = None
    namespace_is: str | None = None
    """Only this organization (its exact name)."""
    name_contains: str | None = None
    category: str | None = None
    is_public: bool | None = None
    only_ids: frozenset[int] | None = None
    """Restrict to these repository ids (the shared-repository listings)."""
    any_domain: bool = False
    """Ignore ``domain_id`` (repositories other accounts shared with the caller)."""


@dataclass(frozen=True, slots=True)
class TagDetail:
    """A tag and the manifest it points at."""

    id: int
    repository_id: int
    name: str
    manifest_id: int
    digest: str
    media_type: str
    config_digest: str | None
    payload: bytes
    """The raw manifest (empty when not asked for)."""
    payload_size: int
    total_size: int
    """Manifest bytes plus everything it references (see ``image_size``)."""
    created_at: int
    updated_at: int

    @property
    def image_size(self) -> int:
        """Config and layers (children for an index): what SWR calls the image size."""
        return max(self.total_size - self.payload_size, 0)


@dataclass(frozen=True, slots=True)
class TagKey:
    """Where a keyset page starts: the sort value and id of the last tag already seen."""

    value: int | str
    id: int


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A manifest that is an accessory of another (a signature, an SBOM, an attestation...)."""

    id: int
    digest: str
    artifact_type: str
    size: int
    subject_digest: str | None
    created_at: int
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShareRecord:
    """One repository shared with one account."""

    repository_id: int
    namespace: str
    repository: str
    domain_id: str
    domain_name: str
    permit: str
    deadline: int | None
    """Epoch milliseconds; None: forever."""
    description: str
    creator_id: str
    creator_name: str
    created_at: int
    updated_at: int

    def valid_at(self, now: int) -> bool:
        """Whether the share still grants its permission at ``now`` (epoch ms)."""
        return self.deadline is None or now < self.deadline


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """What an account holds and has served, at one moment."""

    namespaces: int
    repositories: int
    images: int
    """Tags across every repository."""
    storage: int
    """Bytes of the blobs the account's organizations link: each organization's distinct blobs once
    (a blob in two repositories of one organization counts once; in two organizations, twice)."""
    downloads: int
    """Manifest pulls, since the repositories were created."""
    download_bytes: int
    """Image bytes those pulls served (each pull counted at the image's full size)."""


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """The totals recorded for one UTC day."""

    day: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class RepositoryQuery:
    """The listing filters of ``GET /v2/manage/repos`` and ``/v3/manage/repos``."""

    namespace: str | None = None
    """Substring of the organization name (case-insensitive)."""
    name: str | None = None
    """Substring of the repository name (case-insensitive)."""
    category: str | None = None
    is_public: bool | None = None
    namespace_is: str | None = None
    """Only this organization (its exact name: the console's organization page)."""
