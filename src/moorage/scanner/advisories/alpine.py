"""Alpine secdb importer (https://secdb.alpinelinux.org/<branch>/<repo>.json, or the older YAML).

Each document is one branch and repository: ``distroversion`` (``v3.19``) and a list of packages
(their aports origin, i.e. source, names) whose ``secfixes`` map a fixed version to the ids it
fixes. ``0`` as the version means the branch was never affected. An id entry may carry more than
one id (``CVE-2017-8903 XSA-213``: the first is the id, the rest aliases) and the historical
data holds typos (``CVE_2019-2426``, ``CVE-2017-8073.patch``, version ``1.18.-r2``), which are
repaired where the intent is plain and skipped (and counted) otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pydantic
import yaml

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.advisories.feeds import iter_documents
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    CveMetadata,
    EventKind,
    FixState,
    NameKind,
    RangeEvent,
)
from moorage.scanner.advisories.scopes import distro_scope, normalise_name
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.apk_versions import parse_apk_version

VULN_URL = "https://security.alpinelinux.org/vuln/"


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class SecdbPackageFixes(_Model):
    """``packages[].pkg``."""

    name: str = pydantic.Field(min_length=1, max_length=200)
    secfixes: dict[str, list[str] | str | None] | str | None = None
    """Fixed version -> ids; YAML's base loader reads an empty value as ``""``."""


class SecdbPackage(_Model):
    """``packages[]``."""

    pkg: SecdbPackageFixes


class SecdbDocument(_Model):
    """One secdb document: one branch, one repository."""

    distroversion: str = pydantic.Field(min_length=1)
    reponame: str = ""
    packages: list[SecdbPackage] | str | None = None


_CVE = re.compile(r"CVE[-_](\d{4})-(\d{4,})")
_OTHER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z]+)*-[0-9][0-9A-Za-z-]*$")


def parse_fix_ids(entry: str) -> tuple[str, ...]:
    """The ids in one ``secfixes`` entry, the first being the main id; () if none can be read."""
    ids: list[str] = []
    for token in entry.replace(",", " ").split():
        cve = _CVE.match(token)
        if cve:
            ids.append(f"CVE-{cve.group(1)}-{cve.group(2)}")
        elif _OTHER_ID.match(token):
            ids.append(token)
    return tuple(dict.fromkeys(ids))


def _load(name: str, data: bytes) -> SecdbDocument:
    if name.lower().endswith((".yaml", ".yml")):
        loaded = yaml.load(data, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))  # noqa: S506
        return SecdbDocument.model_validate(loaded)
    return SecdbDocument.model_validate_json(data)


def convert_document(document: SecdbDocument, tally: ImportTally) -> Iterator[AdvisoryRecord]:
    """One record per (package, id) of a branch: affected from the first version, fixed at the given one."""
    scope = distro_scope("alpine", document.distroversion)
    for package in document.packages if isinstance(document.packages, list) else ():
        name = normalise_name(Ecosystem.APK, package.pkg.name)
        fixes: dict[str, tuple[str, tuple[str, ...]]] = {}
        secfixes = package.pkg.secfixes if isinstance(package.pkg.secfixes, dict) else {}
        for version, listed in secfixes.items():
            entries = [listed] if isinstance(listed, str) else (listed or [])
            fixed = str(version).strip().replace(".-r", "-r")  # a known typo: ``1.18.-r2``
            if fixed == "0":
                continue
            try:
                parsed = parse_apk_version(fixed)
            except VersionSyntaxError:
                tally.skip("invalid version", f"{scope} {name}: {fixed!r}")
                continue
            for entry in entries:
                if not entry.strip():
                    continue
                ids = parse_fix_ids(str(entry))
                if not ids:
                    tally.skip("unreadable id", f"{scope} {name}: {entry!r}")
                    continue
                known = fixes.get(ids[0])
                if known is None or parse_apk_version(known[0]) > parsed:
                    fixes[ids[0]] = (fixed, ids[1:])
        for vulnerability_id, (fixed, aliases) in fixes.items():
            events = (RangeEvent(EventKind.INTRODUCED, "0"), RangeEvent(EventKind.FIXED, fixed))
            yield AdvisoryRecord(
                source="alpine",
                id=vulnerability_id,
                aliases=aliases,
                references=(VULN_URL + vulnerability_id,) if vulnerability_id.startswith("CVE-") else (),
                affected=(
                    AffectedPackage(
                        scope=scope,
                        ecosystem=Ecosystem.APK,
                        name=name,
                        name_kind=NameKind.SOURCE,
                        ranges=(AffectedRange(events),),
                        fix_state=FixState.FIXED,
                    ),
                ),
            )


class AlpineSecdbImporter:
    """Reads Alpine secdb documents (JSON or YAML; a file, a directory of branches, or an archive)."""

    kind: ClassVar[str] = "alpine"

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield one record per (branch, package, id)."""
        for document in iter_documents(location, (".json", ".yaml", ".yml")):
            try:
                secdb = _load(document.name, document.data)
            except (pydantic.ValidationError, yaml.YAMLError, json.JSONDecodeError, ValueError) as error:
                tally.skip("malformed document", f"{document.name}: {str(error).splitlines()[0]}")
                continue
            yield from convert_document(secdb, tally)
