"""Scopes and names: where an advisory's package name lives, spelled the same way by every side.

A *scope* is a language ecosystem (``pypi``, ``npm``, ``golang``...) or a distribution release
(``debian:12``, ``ubuntu:22.04``, ``alpine:3.19``, ``rhel:9``). Importers turn each feed's way of
naming a release (``Debian:12``, ``bookworm``, ``v3.19``, ``cpe:/o:redhat:enterprise_linux:9``)
into one, and the matcher turns an image's ``/etc/os-release`` into the same, so the store can be
indexed on ``(scope, name)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moorage.scanner.inventory import Distro, Ecosystem, Package

DEBIAN_RELEASES: dict[str, str] = {
    "hamm": "2",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
}
"""Debian codename -> release number; ``sid`` (unstable) has none and stays ``sid``."""

DISTRO_ECOSYSTEMS: dict[str, Ecosystem] = {
    "debian": Ecosystem.DEB,
    "ubuntu": Ecosystem.DEB,
    "alpine": Ecosystem.APK,
    "wolfi": Ecosystem.APK,
    "chainguard": Ecosystem.APK,
    "rhel": Ecosystem.RPM,
    "centos": Ecosystem.RPM,
    "rocky": Ecosystem.RPM,
    "almalinux": Ecosystem.RPM,
    "ol": Ecosystem.RPM,
    "fedora": Ecosystem.RPM,
    "amzn": Ecosystem.RPM,
    "photon": Ecosystem.RPM,
    "mageia": Ecosystem.RPM,
    "opensuse-leap": Ecosystem.RPM,
    "sles": Ecosystem.RPM,
}
"""Distributions whose packages we match, and the package format each uses."""

RHEL_REBUILDS = frozenset({"centos", "rocky", "almalinux", "ol"})
"""Distributions that may fall back to Red Hat's advisories when the database has none of their own."""

_MAJOR_ONLY = frozenset({"rhel", "centos", "rocky", "almalinux", "ol", "fedora", "debian"})

OSV_LANGUAGE_ECOSYSTEMS: dict[str, Ecosystem] = {
    "PyPI": Ecosystem.PYPI,
    "npm": Ecosystem.NPM,
    "Go": Ecosystem.GOLANG,
    "Maven": Ecosystem.MAVEN,
    "crates.io": Ecosystem.CARGO,
    "RubyGems": Ecosystem.GEM,
    "Packagist": Ecosystem.COMPOSER,
    "NuGet": Ecosystem.NUGET,
}
"""OSV ecosystem names of the language ecosystems we match."""

_OSV_DISTROS: dict[str, str] = {
    "Debian": "debian",
    "Ubuntu": "ubuntu",
    "Alpine": "alpine",
    "AlmaLinux": "almalinux",
    "Rocky Linux": "rocky",
    "Red Hat": "rhel",
    "Photon OS": "photon",
    "Mageia": "mageia",
    "Wolfi": "wolfi",
    "Chainguard": "chainguard",
    "openSUSE": "opensuse-leap",
    "SUSE": "sles",
}


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """A scope and the version syntax its packages use."""

    scope: str
    """Scope key (``pypi``, ``debian:12``)."""
    ecosystem: Ecosystem
    """Version syntax."""


def release_key(distro_id: str, release: str) -> str:
    """Normalise a release name the way ``/etc/os-release`` would give it for ``distro_id``.

    Debian and the RHEL family keep the major number (``12.5`` -> ``12``, ``9.3`` -> ``9``);
    Debian codenames become numbers; Alpine keeps ``major.minor`` (``v3.19.1`` -> ``3.19``) and its
    development branch is ``edge``; rolling distributions (Wolfi) have an empty release.
    """
    value = release.strip().lower()
    if distro_id in ("wolfi", "chainguard"):
        return ""
    if distro_id == "debian":
        if value in DEBIAN_RELEASES:
            return DEBIAN_RELEASES[value]
        if value in ("unstable", "sid"):
            return "sid"
    if distro_id == "alpine":
        value = value.removeprefix("v")
        if "_alpha" in value or value == "edge":
            return "edge"
        parts = value.split(".")
        return ".".join(parts[:2])
    if distro_id in _MAJOR_ONLY:
        return value.split(".")[0]
    return value


def distro_scope(distro_id: str, release: str) -> str:
    """``distro:release`` scope key for a distribution release."""
    distro_key = distro_id.strip().lower()
    return f"{distro_key}:{release_key(distro_key, release)}"


def scopes_for_distro(distro: Distro) -> tuple[ScopeRef, ...]:
    """The scope of an image's OS packages, then the scopes it may fall back to (RHEL for rebuilds).

    The matcher uses the first scope the database knows. An unknown distribution gives none.
    """
    distro_id = distro.id.strip().lower()
    if distro_id not in DISTRO_ECOSYSTEMS:
        return ()
    ecosystem = DISTRO_ECOSYSTEMS[distro_id]
    release = distro.version_id or distro.codename
    scopes = [ScopeRef(distro_scope(distro_id, release), ecosystem)]
    if distro_id in RHEL_REBUILDS or (ecosystem is Ecosystem.RPM and "rhel" in distro.id_like):
        scopes.append(ScopeRef(distro_scope("rhel", release), ecosystem))
    return tuple(dict.fromkeys(scopes))


def osv_scope(osv_ecosystem: str) -> ScopeRef | None:
    """Map an OSV ``affected[].package.ecosystem`` to our scope, or None if we do not match it.

    Language ecosystems may carry a suffix (``PyPI``; ``Maven:https://repo...``): only the part
    before ``:`` counts. Distribution ecosystems carry the release: ``Debian:12``,
    ``Ubuntu:22.04:LTS``, ``Alpine:v3.19``, ``Rocky Linux:9``, ``Red Hat:enterprise_linux:9::appstream``,
    ``openSUSE:Leap 15.5``, ``SUSE:Linux Enterprise Server 15 SP5``. Ubuntu Pro (ESM) and FIPS
    streams are not matched: their fixes need a subscription, so plain images would all show as
    unfixed.
    """
    head, _, rest = osv_ecosystem.partition(":")
    if head in OSV_LANGUAGE_ECOSYSTEMS and (not rest or head == "Maven"):
        ecosystem = OSV_LANGUAGE_ECOSYSTEMS[head]
        return ScopeRef(ecosystem.value, ecosystem)
    distro_id = _OSV_DISTROS.get(head)
    if distro_id is None:
        return None
    ecosystem = DISTRO_ECOSYSTEMS[distro_id]
    release = _osv_release(distro_id, rest)
    if release is None:
        return None
    return ScopeRef(distro_scope(distro_id, release), ecosystem)


def _osv_release(distro_id: str, rest: str) -> str | None:
    if distro_id in ("wolfi", "chainguard"):
        return ""
    if not rest:
        return None
    if distro_id == "ubuntu":
        parts = rest.split(":")
        if parts[0] in ("Pro", "FIPS") or any("fips" in p.lower() for p in parts):
            return None
        return parts[0] if re.fullmatch(r"\d+\.\d+", parts[0]) else None
    if distro_id == "rhel":
        found = re.search(r"enterprise_linux:(\d+)(?::|$)", rest)
        return found.group(1) if found else None
    if distro_id == "opensuse-leap":
        found = re.fullmatch(r"Leap (\d+\.\d+)", rest)
        return found.group(1) if found else None
    if distro_id == "sles":
        found = re.fullmatch(r"Linux Enterprise Server (\d+)(?: SP(\d+))?", rest)
        if not found:
            return None
        return f"{found.group(1)}.{found.group(2) or 0}"
    return rest.split(":")[0]


_PEP503 = re.compile(r"[-_.]+")


def normalise_name(ecosystem: Ecosystem, name: str) -> str:
    """The spelling of a package name used as the store's key, per ecosystem rules.

    PyPI follows PEP 503 (case and ``-_.`` runs folded); crates.io folds case and treats ``-`` and
    ``_`` alike; npm, Composer, NuGet and distribution packages are case-insensitive; Go module
    paths, Maven coordinates and gems keep their case.
    """
    stripped = name.strip()
    if ecosystem is Ecosystem.PYPI:
        return _PEP503.sub("-", stripped).lower()
    if ecosystem is Ecosystem.CARGO:
        return stripped.lower().replace("_", "-")
    if ecosystem in (Ecosystem.GOLANG, Ecosystem.MAVEN, Ecosystem.GEM):
        return stripped
    return stripped.lower()


_SOURCE_RPM = re.compile(r"^(?P<name>.+)-[^-]+-[^-]+\.(?:no)?src\.rpm$")


def source_package_name(package: Package) -> str:
    """The source package name of an OS package (source RPM file names are reduced to the name)."""
    source = package.source_name.strip()
    if package.ecosystem is Ecosystem.RPM:
        found = _SOURCE_RPM.match(source)
        if found:
            return found.group("name")
    return source


def package_key(package: Package) -> str:
    """The full package name the way advisories spell it, before ``normalise_name``.

    Maven ``groupId:artifactId``; npm ``@scope/name``; Go ``module/path``; Composer ``vendor/name``.
    A name that already holds its namespace is used as is.
    """
    name = package.name
    namespace = package.namespace.strip().strip("/")
    if not namespace:
        return name
    if package.ecosystem is Ecosystem.MAVEN:
        return name if ":" in name else f"{namespace}:{name}"
    if package.ecosystem is Ecosystem.NPM:
        scope = namespace if namespace.startswith("@") else f"@{namespace}"
        return name if name.startswith("@") else f"{scope}/{name}"
    if package.ecosystem in (Ecosystem.GOLANG, Ecosystem.COMPOSER):
        return name if name.startswith(namespace + "/") else f"{namespace}/{name}"
    return name
