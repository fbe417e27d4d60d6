"""Plain value types the registry's services take and return (repositories, namespaces, grants,
uploads, manifests, access): handlers never see database rows."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.names import RepositoryName

DEFAULT_INSTANCE = "default"
NO_INSTANCE = "-"
"""An instance id no instance has (ids are ``default`` or hexadecimal): a registry request that must
be answered exactly as for a repository that does not exist (another account's name the caller may
not see) is served from it, so every handler finds nothing and answers as it always does."""
"""The shared-edition registry; Enterprise Edition instances get their own ids."""


@dataclass(frozen=True, slots=True)
class Repository:
    """A repository and the namespace it belongs to."""

    id: int
    instance_id: str
    namespace_id: int
    namespace: str
    name: str
    """Name inside the namespace (may contain ``/``)."""
    is_public: bool
    domain_id: str | None

    @property
    def full_name(self) -> str:
        """``namespace/name``, as container tools write it."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class UploadSession:
    """An upload in progress: its id, the repository it is for, how many bytes it holds. The
    repository itself is only created when the first blob or manifest lands in it."""

    id: str
    repository: str
    size: int
    state: str | None = None
    """The signed state of a session that has no database row yet (``_state`` in its Location)."""


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """A stored manifest. ``payload`` is empty when only metadata was asked for (HEAD)."""

    id: int
    digest: str
    media_type: str
    size: int
    payload: bytes
    subject_digest: str | None
    artifact_type: str


@dataclass(frozen=True, slots=True)
class ReferrerRecord:
    """A manifest that names another as its ``subject``, as the referrers API lists it."""

    digest: str
    media_type: str
    size: int
    artifact_type: str
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``start``-``end`` of a blob."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """Bytes in the range."""
        return self.end - self.start + 1


@dataclass(frozen=True, slots=True)
class Visibility:
    """What a principal may see in listings (the catalog, the management API's repository lists)."""

    all_of_domain: str | None
    """A domain whose repositories are all visible (the principal administers it)."""
    namespace_ids: frozenset[int]
    """Namespaces granted to the user."""
    repository_ids: frozenset[int]
    """Repositories granted to the user."""
    public: bool
    """Whether public repositories of any domain are visible."""


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    """A namespace row."""

    id: int
    instance_id: str
    name: str
    domain_id: str | None
    creator_name: str
    is_public: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class Grant:
    """One user's level on one namespace or repository."""

    user_id: str
    user_name: str
    auth: int


@dataclass(frozen=True, slots=True)
class GrantChange:
    """One requested grant: a user (by id, name checked when given) and a level."""

    user_id: str
    user_name: str
    auth: int


NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    """What a principal may do on a repository name."""

    actions: frozenset[str]
    """The actions (pull, push, delete) held."""
    unseen: frozenset[str] = NOTHING
    """When the name belongs to another account and the caller may not see it: the actions the
    caller would hold were the name free, so that the registry can answer as it does for a name
    that does not exist (empty otherwise)."""


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where an upload goes: a repository that may not exist yet, and the domain that will own its
    namespace if the upload creates it."""

    instance_id: str
    name: RepositoryName
    domain_id: str | None
