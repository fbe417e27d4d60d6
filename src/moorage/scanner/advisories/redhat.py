"""Red Hat importer: CSAF VEX files (https://security.access.redhat.com/data/csaf/v2/vex/).

Red Hat publishes one VEX document per CVE (and one CSAF advisory per RHSA, which this reads too).
The ``product_tree`` names platforms (with a CPE such as ``cpe:/o:redhat:enterprise_linux:9::baseos``)
and components (an RPM with a purl ``pkg:rpm/redhat/openssl@3.0.7-6.el9_2?arch=src&epoch=1``, or a
bare name for unfixed packages); ``relationships`` join them into product ids
``PLATFORM:COMPONENT``. Each vulnerability's ``product_status`` lists those ids as ``fixed``,
``known_affected``, ``known_not_affected`` or ``under_investigation``; ``remediations`` say which
fix (``vendor_fix`` with the RHSA) or why none (``no_fix_planned``: "Will not fix", "Out of support
scope"; ``none_available``: "Affected", "Fix deferred"); ``threats`` carry the impact rating.

Only main RHEL streams are kept (``enterprise_linux:N``); EUS / AUS / E4S / TUS streams and other
products are skipped, so an image matches the fixes of the plain release it runs. Rocky, Alma and
CentOS images fall back to these records when the database has none of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pydantic
from packageurl import PackageURL

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
    Severity,
)
from moorage.scanner.advisories.scopes import distro_scope, normalise_name
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.severity import vendor_severity
from moorage.scanner.matching.versions import compare_versions, is_valid_version

CVE_PAGE = "https://access.redhat.com/security/cve/"
_MAIN_STREAM_CPE = re.compile(r"^cpe:/[aoh]:redhat:enterprise_linux:(\d+)(?::|$)")
_NEVRA = re.compile(r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-]+)\.(?P<arch>[^.]+)$")


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class CsafProductHelper(_Model):
    """``product_identification_helper``."""

    cpe: str = ""
    purl: str = ""


class CsafProduct(_Model):
    """``product`` of a product-tree branch."""

    product_id: str
    name: str = ""
    product_identification_helper: CsafProductHelper | None = None


class CsafBranch(_Model):
    """A node of the product tree (recursive)."""

    category: str = ""
    name: str = ""
    product: CsafProduct | None = None
    branches: list[CsafBranch] = []


class CsafFullProductName(_Model):
    """``relationships[].full_product_name``."""

    product_id: str


class CsafRelationship(_Model):
    """Joins a component (``product_reference``) to a platform (``relates_to_product_reference``)."""

    category: str = ""
    full_product_name: CsafFullProductName
    product_reference: str
    relates_to_product_reference: str


class CsafProductTree(_Model):
    """``product_tree``."""

    branches: list[CsafBranch] = []
    relationships: list[CsafRelationship] = []


class CsafProductStatus(_Model):
    """``vulnerabilities[].product_status``."""

    fixed: list[str] = []
    known_affected: list[str] = []


class CsafRemediation(_Model):
    """``vulnerabilities[].remediations[]``."""

    category: str
    details: str = ""
    url: str = ""
    product_ids: list[str] = []


class CsafThreat(_Model):
    """``vulnerabilities[].threats[]``; ``impact`` threats carry Red Hat's rating."""

    category: str
    details: str = ""
    product_ids: list[str] = []


class CsafCvssV3(_Model):
    """``scores[].cvss_v3``."""

    vectorString: str


class CsafScore(_Model):
    """``vulnerabilities[].scores[]``."""

    cvss_v3: CsafCvssV3 | None = None
    products: list[str] = []


class CsafNote(_Model):
    """``notes[]``."""

    category: str = ""
    text: str = ""


class CsafReference(_Model):
    """``references[]``."""

    url: str = ""


class CsafVulnerability(_Model):
    """``vulnerabilities[]``."""

    cve: str = ""
    title: str = ""
    notes: list[CsafNote] = []
    product_status: CsafProductStatus = CsafProductStatus()
    remediations: list[CsafRemediation] = []
    threats: list[CsafThreat] = []
    scores: list[CsafScore] = []
    references: list[CsafReference] = []
    release_date: str = ""


class CsafAggregateSeverity(_Model):
    """``document.aggregate_severity``."""

    text: str = ""


class CsafDocumentMeta(_Model):
    """``document``."""

    category: str = ""
    aggregate_severity: CsafAggregateSeverity | None = None


class CsafDocument(_Model):
    """A CSAF VEX (or CSAF advisory) document."""

    document: CsafDocumentMeta
    product_tree: CsafProductTree = CsafProductTree()
    vulnerabilities: list[CsafVulnerability] = []


@dataclass(frozen=True, slots=True)
class _Component:
    name: str
    version: str
    kind: NameKind


def _walk(branches: Iterable[CsafBranch]) -> Iterator[CsafProduct]:
    for branch in branches:
        if branch.product is not None:
            yield branch.product
        yield from _walk(branch.branches)


def _component(product_id: str, product: CsafProduct | None) -> _Component | None:
    helper = product.product_identification_helper if product else None
    if helper and helper.purl:
        try:
            purl = PackageURL.from_string(helper.purl)
        except ValueError:
            return None
        if purl.type != "rpm":
            return None
        qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
        kind = NameKind.SOURCE if qualifiers.get("arch") == "src" else NameKind.BINARY
        version = purl.version or ""
        epoch = qualifiers.get("epoch", "0")
        if version and epoch not in ("", "0"):
            version = f"{epoch}:{version}"
        return _Component(purl.name, version, kind)
    found = _NEVRA.match(product_id)
    if found:
        epoch = found.group("epoch")
        version = f"{found.group('version')}-{found.group('release')}"
        version = f"{epoch}:{version}" if epoch not in (None, "0") else version
        kind = NameKind.SOURCE if found.group("arch") == "src" else NameKind.BINARY
        return _Component(found.group("name"), version, kind)
    bare = product_id.rsplit("/", 1)[-1]
    if not bare or ":" in bare or " " in bare:
        return None
    return _Component(bare, "", NameKind.SOURCE)


def _unfixed_state(details: str, category: str) -> FixState:
    words = details.strip().lower()
    if "out of support" in words or "end of life" in words:
        return FixState.END_OF_LIFE
    if "defer" in words:
        return FixState.DEFERRED
    if category == "no_fix_planned" or "will not fix" in words:
        return FixState.WILL_NOT_FIX
    return FixState.UNFIXED


class _ProductIndex:
    """Product ids of one document resolved to (RHEL scope, component)."""

    def __init__(self, tree: CsafProductTree) -> None:
        products = {product.product_id: product for product in _walk(tree.branches)}
        self.scopes: dict[str, str] = {}
        for product_id, product in products.items():
            helper = product.product_identification_helper
            found = _MAIN_STREAM_CPE.match(helper.cpe) if helper else None
            if found:
                self.scopes[product_id] = distro_scope("rhel", found.group(1))
        self.joined: dict[str, tuple[str, _Component]] = {}
        for relation in tree.relationships:
            scope = self.scopes.get(relation.relates_to_product_reference)
            if scope is None:
                continue
            reference = relation.product_reference
            component = _component(reference, products.get(reference))
            if component is not None:
                self.joined[relation.full_product_name.product_id] = (scope, component)

    def resolve(self, product_id: str) -> tuple[str, _Component] | None:
        """(scope, component) of a ``PLATFORM:COMPONENT`` id, or None if not a main-stream RHEL RPM."""
        return self.joined.get(product_id)


def convert_vulnerability(
    document: CsafDocument, index: _ProductIndex, vulnerability: CsafVulnerability, tally: ImportTally
) -> AdvisoryRecord | None:
    """One CVE of one document as a record (affected per RHEL release and package); None if none."""
    cve = vulnerability.cve.strip()
    if not cve:
        tally.skip("vulnerability without CVE id")
        return None
    ratings: dict[str, Severity] = {}
    for threat in vulnerability.threats:
        rating = vendor_severity(threat.details) if threat.category == "impact" else None
        if rating is not None:
            for product_id in threat.product_ids:
                ratings[product_id] = rating
    states: dict[str, tuple[FixState, str]] = {}
    advisory_urls: dict[str, str] = {}
    for remedy in vulnerability.remediations:
        for product_id in remedy.product_ids:
            if remedy.category == "vendor_fix":
                advisory_urls[product_id] = remedy.url
            else:
                states[product_id] = (_unfixed_state(remedy.details, remedy.category), remedy.details.strip())
    fixed: dict[tuple[str, str, NameKind], AffectedPackage] = {}
    for product_id in vulnerability.product_status.fixed:
        resolved = index.resolve(product_id)
        if resolved is None:
            continue
        scope, component = resolved
        if not component.version or not is_valid_version(Ecosystem.RPM, component.version):
            tally.skip("invalid version", f"{cve} {product_id}")
            continue
        key = (scope, normalise_name(Ecosystem.RPM, component.name), component.kind)
        known = fixed.get(key)
        if known and compare_versions(Ecosystem.RPM, _fixed_version(known), component.version) <= 0:
            continue
        url = advisory_urls.get(product_id, "")
        fixed[key] = AffectedPackage(
            scope=scope,
            ecosystem=Ecosystem.RPM,
            name=key[1],
            name_kind=component.kind,
            ranges=(
                AffectedRange((RangeEvent(EventKind.INTRODUCED, "0"), RangeEvent(EventKind.FIXED, component.version))),
            ),
            fix_state=FixState.FIXED,
            vendor_severity=ratings.get(product_id),
            note=url.rsplit("/", 1)[-1] if url else "",
        )
    unfixed: dict[tuple[str, str, NameKind], AffectedPackage] = {}
    for product_id in vulnerability.product_status.known_affected:
        resolved = index.resolve(product_id)
        if resolved is None:
            continue
        scope, component = resolved
        key = (scope, normalise_name(Ecosystem.RPM, component.name), component.kind)
        if key in fixed or (scope, key[1], NameKind.SOURCE) in fixed:
            continue
        state, note = states.get(product_id, (FixState.UNFIXED, ""))
        unfixed[key] = AffectedPackage(
            scope=scope,
            ecosystem=Ecosystem.RPM,
            name=key[1],
            name_kind=component.kind,
            ranges=(AffectedRange((RangeEvent(EventKind.INTRODUCED, "0"),)),),
            fix_state=state,
            vendor_severity=ratings.get(product_id),
            note=note,
        )
    affected = (*fixed.values(), *unfixed.values())
    if not affected:
        tally.skip("no RHEL package affected", cve)
        return None
    description = next((n.text for n in vulnerability.notes if n.category == "description"), "")
    vectors = tuple(dict.fromkeys(s.cvss_v3.vectorString for s in vulnerability.scores if s.cvss_v3))
    references = [CVE_PAGE + cve, *sorted({u for u in advisory_urls.values() if u})]
    references += [r.url for r in vulnerability.references if r.url]
    aggregate = document.document.aggregate_severity
    return AdvisoryRecord(
        source="redhat",
        id=cve,
        summary=vulnerability.title.strip()[:500],
        details=description.strip()[:8000],
        severity=vendor_severity(aggregate.text) if aggregate else None,
        cvss_vectors=vectors[:10],
        references=tuple(dict.fromkeys(references))[:50],
        published=vulnerability.release_date,
        affected=affected,
    )


def _fixed_version(affected: AffectedPackage) -> str:
    return next(e.version for e in affected.ranges[0].events if e.kind is EventKind.FIXED)


def convert_document(document: CsafDocument, tally: ImportTally) -> Iterator[AdvisoryRecord]:
    """The records of one CSAF document (usually one CVE)."""
    index = _ProductIndex(document.product_tree)
    for vulnerability in document.vulnerabilities:
        record = convert_vulnerability(document, index, vulnerability, tally)
        if record is not None:
            yield record


class RedHatCsafImporter:
    """Reads Red Hat CSAF VEX files: one file, a directory, or the published ``.tar.zst`` archive."""

    kind: ClassVar[str] = "redhat"

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield one record per CVE that affects a main-stream RHEL release."""
        for feed_document in iter_documents(location, (".json",)):
            try:
                document = CsafDocument.model_validate_json(feed_document.data)
            except (pydantic.ValidationError, json.JSONDecodeError, ValueError) as error:
                tally.skip("malformed document", f"{feed_document.name}: {str(error).splitlines()[0]}")
                continue
            yield from convert_document(document, tally)
