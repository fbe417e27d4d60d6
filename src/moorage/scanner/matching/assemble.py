"""Turning matched advisory records into findings: merge by alias, pick ids, fix, severity, text.

Records that share any id (a GHSA listing its CVE, a PYSEC listing both) describe one
vulnerability and become one finding. Within it, the distribution vendor's records speak first
(their rating and fix state describe the build in the image), then the others; severity is the
first vendor rating, else the CVSS base score from the records' vectors, else NVD's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.advisories.records import AdvisoryRecord, CveMetadata, FixState, NameKind, Severity
from moorage.scanner.inventory import Package
from moorage.scanner.matching.findings import MatchEvidence, VulnerabilityFinding
from moorage.scanner.matching.ranges import RangeHit
from moorage.scanner.matching.severity import CvssScore, best_score
from moorage.scanner.matching.versions import compare_versions

MAX_TITLE = 200
MAX_LINKS = 30
_VENDOR_SOURCES = frozenset({"debian", "alpine", "redhat"})
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


@dataclass(frozen=True, slots=True)
class RecordMatch:
    """One record that matched one package: the record, the affected row's facts and the range hit."""

    record: AdvisoryRecord
    scope: str
    package_name: str
    name_kind: NameKind
    compared_version: str
    hit: RangeHit
    vendor_severity: Severity | None
    note: str

    @property
    def is_vendor(self) -> bool:
        """Whether a distribution vendor's data produced it (OSV distro feeds count)."""
        return self.record.source in _VENDOR_SOURCES or ":" in self.scope

    def evidence(self) -> MatchEvidence:
        """The explanation kept in the finding."""
        return MatchEvidence(
            source=self.record.source,
            record_id=self.record.id,
            scope=self.scope,
            package_name=self.package_name,
            name_kind=self.name_kind,
            compared_version=self.compared_version,
            affected_range=self.hit.affected_range,
            fixed_version=self.hit.fixed_version,
            fix_state=self.hit.fix_state,
            reason=self.hit.reason,
            note=self.note,
        )


def group_by_alias(matches: Sequence[RecordMatch]) -> list[list[RecordMatch]]:
    """Partition matches so that records sharing any id (transitively) are together; input order kept."""
    parent = list(range(len(matches)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    owner: dict[str, int] = {}
    for index, match in enumerate(matches):
        for vulnerability_id in (match.record.id, *match.record.aliases):
            if vulnerability_id in owner:
                parent[root(index)] = root(owner[vulnerability_id])
            else:
                owner[vulnerability_id] = index
    groups: dict[int, list[RecordMatch]] = {}
    for index, match in enumerate(matches):
        groups.setdefault(root(index), []).append(match)
    return list(groups.values())


def choose_ids(matches: Sequence[RecordMatch]) -> tuple[str, tuple[str, ...]]:
    """Main id (first CVE in sort order, else first GHSA, else the first record's id) and the rest."""
    ids = list(dict.fromkeys(i for m in matches for i in (m.record.id, *m.record.aliases)))
    cves = sorted(i for i in ids if _CVE.match(i))
    ghsas = sorted(i for i in ids if i.startswith("GHSA-"))
    main = cves[0] if cves else ghsas[0] if ghsas else matches[0].record.id
    return main, tuple(sorted(i for i in ids if i != main))


def _first_sentence(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
    return sentence if len(sentence) <= MAX_TITLE else sentence[: MAX_TITLE - 1] + "…"


def _fixed(package: Package, matches: Sequence[RecordMatch]) -> str:
    fixes = [m.hit.fixed_version for m in matches if m.hit.fixed_version]
    best = ""
    for fix in fixes:
        try:
            if not best or compare_versions(package.ecosystem, fix, best) > 0:
                best = fix
        except VersionSyntaxError:
            continue
    return best


def _severity(matches: Sequence[RecordMatch], score: CvssScore | None, score_from_nvd: bool) -> tuple[Severity, str]:
    for match in matches:
        rating = match.vendor_severity or match.record.severity
        if rating is not None:
            return rating, f"{match.record.source} {match.record.id}"
    if score is not None:
        return score.severity, f"{'nvd ' if score_from_nvd else ''}cvss {score.version}"
    return Severity.UNKNOWN, ""


def build_finding(
    package: Package,
    matches: Sequence[RecordMatch],
    nvd: dict[str, CveMetadata],
    scores: dict[str, CvssScore | None] | None = None,
) -> VulnerabilityFinding:
    """One finding from the matches of one alias group on one package (``scores``: a CVSS cache)."""
    ordered = sorted(matches, key=lambda m: not m.is_vendor)
    main_id, aliases = choose_ids(ordered)
    nvd_entries = [nvd[i] for i in (main_id, *aliases) if i in nvd]
    score = best_score((v for m in ordered for v in m.record.cvss_vectors), scores)
    score_from_nvd = False
    if score is None:
        score = best_score((v for entry in nvd_entries for v in entry.cvss_vectors), scores)
        score_from_nvd = score is not None
    severity, severity_source = _severity(ordered, score, score_from_nvd)
    fixed_version = _fixed(package, ordered)
    fix_state = FixState.FIXED if fixed_version else ordered[0].hit.fix_state
    description = next((m.record.details for m in ordered if m.record.details), "")
    description = description or next((e.description for e in nvd_entries if e.description), "")
    title = next((m.record.summary for m in ordered if m.record.summary), "") or _first_sentence(description)
    links = [url for m in ordered for url in m.record.references]
    links += [url for entry in nvd_entries for url in entry.references]
    evidence = tuple(dict.fromkeys(m.evidence() for m in ordered))
    return VulnerabilityFinding(
        vulnerability_id=main_id,
        aliases=aliases,
        ecosystem=package.ecosystem,
        package_name=package.name,
        installed_version=package.version,
        purl=package.purl,
        source_name=package.source_name,
        source_version=package.source_version,
        layer_digest=package.layer_digest,
        path=package.path,
        fixed_version=fixed_version,
        fix_state=fix_state,
        severity=severity,
        severity_source=severity_source,
        score=score.base_score if score else None,
        cvss_vector=score.vector if score else "",
        title=title[:MAX_TITLE],
        description=description,
        links=tuple(dict.fromkeys(links))[:MAX_LINKS],
        matched_by=evidence,
    )


def cve_ids(matches: Sequence[RecordMatch]) -> set[str]:
    """Every CVE id among the matched records (to fetch NVD facts in one query)."""
    return {i for m in matches for i in (m.record.id, *m.record.aliases) if _CVE.match(i)}
