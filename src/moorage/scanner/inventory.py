"""The scanner's inventory types: what image analysis produces and what matching consumes.

These value types are the contract between the analysis half of the scanner (image sources,
layers, analyzers) and the matching half (advisory database, matchers). The registry stores an
inventory as JSON, so fields are only ever added, with defaults, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Ecosystem(StrEnum):
    """Where a package comes from; the value is also the purl type (``pkg:<type>/...``)."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYPI = "pypi"
    NPM = "npm"
    GOLANG = "golang"
    MAVEN = "maven"
    GEM = "gem"
    COMPOSER = "composer"
    CARGO = "cargo"
    NUGET = "nuget"


@dataclass(frozen=True, slots=True)
class Distro:
    """The operating system of an image, as ``/etc/os-release`` (or its older friends) names it."""

    id: str
    """os-release ``ID``, lower case: ``debian``, ``ubuntu``, ``alpine``, ``rhel``, ``centos``,
    ``rocky``, ``almalinux``, ``fedora``, ``amzn``, ``sles``, ``opensuse-leap``, ``distroless``..."""
    version_id: str
    """os-release ``VERSION_ID``: ``12``, ``22.04``, ``3.19.1``, ``9.3``; empty for a rolling release."""
    codename: str = ""
    """``VERSION_CODENAME`` where the distribution has one (``bookworm``, ``jammy``)."""
    pretty_name: str = ""
    """``PRETTY_NAME``, for people."""
    id_like: tuple[str, ...] = ()
    """os-release ``ID_LIKE``: lets a rebuild (rocky, alma) fall back to its parent's advisories."""


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package, found at one path of one layer.

    Versions are written as the ecosystem writes them, so that the ecosystem's comparator can
    read them: Debian ``[epoch:]upstream[-revision]``; RPM ``[epoch:]version-release`` (epoch
    only when non-zero); apk ``1.2.3-r4``; PEP 440; semver for npm, Go (with the leading ``v``),
    cargo; Maven as in the POM.
    """

    ecosystem: Ecosystem
    """Package ecosystem (and purl type)."""
    name: str
    """Binary package name (deb, apk, rpm) or the ecosystem's package name. Maven: ``artifactId``."""
    version: str
    """Installed version, in the ecosystem's own syntax (see the class docstring)."""
    purl: str
    """Package URL (https://github.com/package-url/purl-spec) identifying name, version, distro."""
    source_name: str = ""
    """Source package: Debian ``Source:``, apk ``origin``, the RPM's source RPM name."""
    source_version: str = ""
    """Source package version where it differs from ``version`` (Debian binNMUs, rpm)."""
    namespace: str = ""
    """Maven ``groupId``; npm scope (``@scope``); Go module path prefix; empty elsewhere."""
    arch: str = ""
    """Architecture the package was built for (``amd64``, ``x86_64``, ``noarch``); empty if unknown."""
    licenses: tuple[str, ...] = ()
    """Declared licenses, as written (SPDX expressions where the metadata gives them)."""
    layer_digest: str = ""
    """Digest of the image layer (as the manifest lists it) whose copy of ``path`` is in the image."""
    path: str = ""
    """Absolute path inside the image of the file this package record was read from."""
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Extra facts an analyzer wants to keep (e.g. Go ``stdlib`` version, rpm vendor)."""
