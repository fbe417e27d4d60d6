"""Repository names, namespaces and tags: parsing and the naming rules.

A name is ``namespace/repository[/more]``. Both parts must satisfy the OCI distribution grammar
*and* SWR's naming rules (as ShowRepoTag documents them), which are stricter: a namespace is 1-64 characters, starts
with a lowercase letter and ends with a lowercase letter or digit; a repository is 1-128
characters, starts and ends with a lowercase letter or digit and may contain ``/``; in both,
separators (``.`` ``_`` ``-`` and, in repositories, ``/``) are never adjacent, except that two
underscores may be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moorage.domain.errors import NameInvalid, TagInvalid

NAMESPACE_MAX = 64
REPOSITORY_MAX = 128
# OCI distribution-spec: the whole <name> is at most 255 characters in practice (host + name);
# we check the SWR limits per part, which are tighter.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-)[a-z0-9]+)*"
_NAMESPACE = re.compile(r"^[a-z](?:[a-z0-9]*(?:(?:\.|_|__|-)[a-z0-9]+)*)?$")
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")


def validate_namespace(name: str) -> str:
    """Return ``name`` if it is a valid namespace (organization) name, else raise ``NameInvalid``."""
    if not 1 <= len(name) <= NAMESPACE_MAX or not _NAMESPACE.fullmatch(name):
        raise NameInvalid(
            f"invalid namespace {name!r}: 1-{NAMESPACE_MAX} characters, starting with a lowercase letter, "
            "ending with a lowercase letter or digit; lowercase letters, digits, '.', '_', '-' only, "
            "separators never adjacent (at most two consecutive underscores)",
            detail={"name": name[:300]},
            reason="namespace_invalid",
        )
    return name


def validate_repository(name: str) -> str:
    """Return ``name`` if it is a valid repository name (without namespace), else raise ``NameInvalid``."""
    if not 1 <= len(name) <= REPOSITORY_MAX or not _REPOSITORY.fullmatch(name):
        raise NameInvalid(
            f"invalid repository name {name!r}: 1-{REPOSITORY_MAX} characters, starting and ending with a "
            "lowercase letter or digit; lowercase letters, digits, '.', '/', '_', '-' only, separators "
            "never adjacent (at most two consecutive underscores)",
            detail={"name": name[:300]},
            reason="repository_invalid",
        )
    return name


def validate_tag(tag: str) -> str:
    """Return ``tag`` if it matches the OCI tag grammar, else raise ``TagInvalid``."""
    if not _TAG.fullmatch(tag):
        raise TagInvalid(
            f"invalid tag {tag!r}: up to 128 characters of [a-zA-Z0-9._-], not starting with '.' or '-'",
            detail={"tag": tag[:300]},
        )
    return tag


def is_valid_tag(tag: str) -> bool:
    """Whether ``tag`` matches the OCI tag grammar."""
    return bool(_TAG.fullmatch(tag))


@dataclass(frozen=True, slots=True, order=True)
class RepositoryName:
    """A validated ``namespace/repository`` pair."""

    namespace: str
    repository: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.repository}"

    @classmethod
    def parse(cls, full_name: str) -> RepositoryName:
        """Split ``ns/repo[/more]`` and validate both parts."""
        namespace, sep, repository = full_name.partition("/")
        if not sep:
            raise NameInvalid(
                f"invalid repository name {full_name!r}: expected <namespace>/<repository>",
                detail={"name": full_name[:300]},
            )
        return cls(validate_namespace(namespace), validate_repository(repository))

    @classmethod
    def from_api_path(cls, namespace: str, repository: str) -> RepositoryName:
        """Build from the management API's path parameters, where ``$`` stands for ``/``."""
        return cls(validate_namespace(namespace), validate_repository(repository.replace("$", "/")))
