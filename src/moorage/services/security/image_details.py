"""One image's scan details (``/v5/{project_id}/image/{image_id}/...``): its vulnerabilities with
how the account handled them, installed software, files and their totals, malicious files,
sensitive information (without the account's allowlisted paths), software that cannot be
checked, and the base image. A multi-architecture image shows the union of its platform images'
details. An image not scanned successfully has none."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.errors import Invalid
from moorage.domain.identity import Principal
from moorage.domain.security import ImageRow, ImageVisibility, ScanStatus
from moorage.domain.security_findings import (
    VULNERABILITY_SORTS,
    ImageVulnerabilityQuery,
    ListedVulnerability,
    SetAsideScope,
    StoredFinding,
)
from moorage.domain.security_images import ImageRef
from moorage.domain.severity import severity_rank
from moorage.metadata.queries import security_details as details_q
from moorage.metadata.queries import security_handling as handling_q
from moorage.metadata.queries import security_packages as packages_q
from moorage.metadata.queries import security_vulnerability_list as list_q
from moorage.scanner.checks.secrets import SKIPPED_DIRS as SECRET_SKIPPED_DIRS
from moorage.services.security.detail_base import DetailBase, path_allowed, row_ids_by_digest
from moorage.services.security.detail_reader import AdvisoryText
from moorage.services.security.detail_vocabulary import repair_necessity, solution, vul_type
from moorage.services.security.images import image_visibility

DEFAULT_SENSITIVE_PATHS = tuple(SECRET_SKIPPED_DIRS)
"""Paths the scanner never reads for sensitive information (HSS's fixed ``default_path``)."""


@dataclass(frozen=True, slots=True)
class ImageVulnerability:
    """A vulnerability of one package of the image (``ImageVulInfo``)."""

    vul_id: str
    repair_necessity: str
    description: str
    position: str
    app_name: str
    app_path: str
    version: str
    solution: str
    url: str
    severity: str
    type: str
    handled: bool
    score: float | None = None
    """CVSS base score, when the advisory gives one."""
    fixed_version: str = ""
    """The first version that fixes it (empty: none known)."""
    whitelisted: bool = False
    """Handled because a whitelist covers it (else, when handled: ignored)."""


@dataclass(frozen=True, slots=True)
class VulnerabilityPage:
    """One page of an image's vulnerabilities."""

    items: tuple[ImageVulnerability, ...]
    matching: int
    """How many match the filters."""
    counts: dict[tuple[str, bool], int]
    """How many there are by (stored severity, handled), when asked for."""


@dataclass(frozen=True, slots=True)
class ImageApp:
    """Installed software and its vulnerabilities (``ImageAppsInfo``)."""

    app_name: str
    app_type: str
    app_version: str
    vul_num: int


@dataclass(frozen=True, slots=True)
class ImageFileInfo:
    """A file of the image (``ImageFileInfo``)."""

    file_name: str
    file_path: str
    size: int


@dataclass(frozen=True, slots=True)
class ImageMalware:
    """A malicious file (``ImageMalwareInfo``)."""

    file_name: str
    file_path: str
    size: int
    description: str


@dataclass(frozen=True, slots=True)
class SensitiveItem:
    """Sensitive information found in a file (``ImageSensitiveInfo``)."""

    sensitive_info_id: str
    severity: str
    name: str
    description: str
    position: str
    file_path: str
    content: str
    latest_scan_time: int
    handle_status: str
    operate_accept: str


@dataclass(frozen=True, slots=True)
class NonCompliantApp:
    """Software whose versions cannot be checked (``ImageNonCompliantAppInfo``)."""

    id: str
    app_name: str
    app_path: str
    app_version: str
    layer_digest: str


@dataclass(frozen=True, slots=True)
class BasicImage:
    """The operating system the image is built on (``ImageBasicImageInfo``)."""

    os_name: str
    os_version: str
    layer_digest: str


def _contains(value: str, part: str | None) -> bool:
    return not part or part.lower() in value.lower()


class ImageDetailService(DetailBase):
    """Per-image detail lists (see the module docstring)."""

    def _scanned(self, row: ImageRow) -> bool:
        return row.scan_status is ScanStatus.SUCCESS

    def _scope(self, seen: ImageVisibility, ref: ImageRef) -> tuple[ImageRow, SetAsideScope | None]:
        """The image a request names and what decides its findings' handling (None: not scanned)."""
        row = self.image(seen, ref)
        if not self._scanned(row):
            return row, None
        rows_of = row_ids_by_digest(row)
        lists = self.db.run_read(lambda conn: handling_q.whitelists_of(conn, seen.domain_id))
        covering = tuple(
            (digest, tuple(w.id for w in lists if w.covers(row.image_type, row_ids)))
            for digest, row_ids in rows_of.items()
        )
        return row, SetAsideScope(seen.domain_id, covering)

    def _shown(self, listed: list[ListedVulnerability]) -> list[ImageVulnerability]:
        """The API's rows of some listed findings, with the advisory text their reports give."""
        advisories: dict[str, AdvisoryText] = {}
        for digest in dict.fromkeys(item.stored.manifest_digest for item in listed):
            facts = self.reader.facts(digest)
            if facts is not None:
                advisories.update(facts.advisories)
        found = []
        for item in listed:
            v = item.stored
            text = advisories.get(v.finding_key)
            found.append(
                ImageVulnerability(
                    vul_id=v.vul_id,
                    repair_necessity=repair_necessity(v.severity),
                    description=v.title or (text.description if text else ""),
                    position=v.layer_digest,
                    app_name=v.package_name,
                    app_path=v.path if vul_type(v.ecosystem) == "app_vul" else "",
                    version=v.package_version,
                    solution=solution(v.package_name, v.fixed_version, v.fix_state),
                    url=text.links[0] if text and text.links else "",
                    severity=v.severity,
                    type=vul_type(v.ecosystem),
                    handled=item.handled,
                    score=v.score,
                    fixed_version=v.fixed_version,
                    whitelisted=item.whitelisted,
                )
            )
        return found

    async def vulnerability_page(
        self,
        principal: Principal,
        ref: ImageRef,
        query: ImageVulnerabilityQuery,
        *,
        offset: int,
        limit: int | None,
        with_counts: bool = False,
    ) -> VulnerabilityPage:
        """One page of the image's vulnerabilities as the database filters, orders and pages them
        (``queries/security_vulnerability_list.py`` holds the rule), how many match, and with
        ``with_counts`` how many there are by (severity, handled)."""
        if query.sort not in VULNERABILITY_SORTS:
            raise Invalid(f"sort must be one of {', '.join(VULNERABILITY_SORTS)}")
        seen = image_visibility(principal)

        def work() -> VulnerabilityPage:
            _, scope = self._scope(seen, ref)
            if scope is None:
                return VulnerabilityPage((), 0, {})

            listed, total, counts = self.db.run_read(
                lambda conn: list_q.page_and_counts(conn, scope, query, offset=offset, limit=limit)
            )
            return VulnerabilityPage(tuple(self._shown(listed)), total, counts if with_counts else {})

        return await self.run(work)

    async def vulnerabilities(
        self,
        principal: Principal,
        ref: ImageRef,
        *,
        necessity: str | None,
        vul_id: str | None,
        app_name: str | None,
        kind: str | None,
        handle_status: str | None,
    ) -> list[ImageVulnerability]:
        """The image's vulnerabilities, most severe first (``vul_id`` matches a part of the id or an
        alias; ``app_name`` a part of the package name), all of them."""
        query = ImageVulnerabilityQuery(
            necessity=necessity,
            vul_id=vul_id,
            package=app_name,
            kind=kind,
            handled=None if handle_status is None else handle_status == "handled",
        )
        found = await self.vulnerability_page(principal, ref, query, offset=0, limit=None)
        return list(found.items)

    async def apps(self, principal: Principal, ref: ImageRef, *, app_name: str | None) -> list[ImageApp]:
        """The image's installed software with how many vulnerabilities each has."""
        seen = image_visibility(principal)

        def work() -> list[ImageApp]:
            row = self.image(seen, ref)
            if not self._scanned(row):
                return []
            digests = list(row_ids_by_digest(row))
            self.reader.ensure_packages(digests)
            packages = self.db.run_read(lambda conn: packages_q.of_digests(conn, digests, name_part=app_name))
            stored = self.db.run_read(lambda conn: details_q.vulnerabilities(conn, digests))
            vulns: dict[tuple[str, str, str], set[str]] = {}
            for v in stored:
                vulns.setdefault((v.ecosystem, v.package_name, v.package_version), set()).add(v.vul_id)
            found: dict[tuple[str, str, str], ImageApp] = {}
            for stored_package in packages:
                p = stored_package.package
                key = (p.ecosystem, p.name, p.version)
                found.setdefault(key, ImageApp(p.name, p.ecosystem, p.version, len(vulns.get(key, ()))))
            return sorted(found.values(), key=lambda a: (-a.vul_num, a.app_name.lower(), a.app_version))

        return await self.run(work)

    def _files(self, seen: ImageVisibility, ref: ImageRef) -> list[ImageFileInfo]:
        row = self.image(seen, ref)
        if not self._scanned(row):
            return []
        found: dict[str, ImageFileInfo] = {}
        for digest in row_ids_by_digest(row):
            for f in self.reader.files(digest) or ():
                found.setdefault(f.path, ImageFileInfo(f.name, f.path, f.size))
        return [found[p] for p in sorted(found)]

    async def files(self, principal: Principal, ref: ImageRef, *, file_name: str | None) -> list[ImageFileInfo]:
        """The regular files of the image's final filesystem, by path (``file_name``: a part of the name)."""
        seen = image_visibility(principal)
        return await self.run(lambda: [f for f in self._files(seen, ref) if _contains(f.file_name, file_name)])

    async def files_statistics(self, principal: Principal, ref: ImageRef) -> tuple[int, int]:
        """(number of files, their total size)."""
        seen = image_visibility(principal)

        def work() -> tuple[int, int]:
            files = self._files(seen, ref)
            return len(files), sum(f.size for f in files)

        return await self.run(work)

    async def malware(self, principal: Principal, ref: ImageRef, *, file_name: str | None) -> list[ImageMalware]:
        """The image's malicious files (one per file: the rules that flagged it in the description)."""
        seen = image_visibility(principal)

        def work() -> list[ImageMalware]:
            row = self.image(seen, ref)
            if not self._scanned(row):
                return []
            digests = list(row_ids_by_digest(row))
            findings = self.db.run_read(lambda conn: details_q.findings(conn, digests, ["malware"]))
            sizes = {f.path: f.size for d in digests for f in self.reader.files(d) or ()}
            by_path: dict[str, list[str]] = {}
            for f in sorted(findings, key=lambda f: (-severity_rank(f.severity), f.path)):
                by_path.setdefault(f.path, [])
                if f.title not in by_path[f.path]:
                    by_path[f.path].append(f.title)
            return [
                ImageMalware(path.rsplit("/", 1)[-1], path, sizes.get(path, 0), "; ".join(titles))
                for path, titles in sorted(by_path.items())
                if _contains(path.rsplit("/", 1)[-1], file_name)
            ]

        return await self.run(work)

    async def sensitive(
        self,
        principal: Principal,
        ref: ImageRef,
        *,
        file_path: str | None,
        severity: str | None,
        handle_status: str | None,
    ) -> list[SensitiveItem]:
        """The image's sensitive information, leaving out the account's allowlisted paths."""
        seen = image_visibility(principal)
        domain_id = seen.domain_id

        def work() -> list[SensitiveItem]:
            row = self.image(seen, ref)
            if not self._scanned(row):
                return []
            digests = list(row_ids_by_digest(row))
            findings = self.db.run_read(lambda conn: details_q.findings(conn, digests, ["secret"]))
            allowlist = self.db.run_read(lambda conn: handling_q.path_allowlist(conn, domain_id))
            ignored = self.db.run_read(lambda conn: handling_q.ignored_findings(conn, domain_id))
            items: dict[str, SensitiveItem] = {}
            for f in sorted(findings, key=lambda f: (-severity_rank(f.severity), f.path, f.finding_key)):
                if path_allowed(f.path, allowlist) or not _contains(f.path, file_path):
                    continue
                if severity and f.severity != severity:
                    continue
                handled = f.finding_key in ignored
                if handle_status and (handle_status == "handled") != handled:
                    continue
                items.setdefault(f.finding_key, sensitive_item(f, row.latest_scan_time, handled))
            return list(items.values())

        return await self.run(work)

    async def non_compliant_apps(
        self, principal: Principal, ref: ImageRef, *, app_name: str | None
    ) -> list[NonCompliantApp]:
        """Software of the image the scanner could not check against advisories (unsupported
        distribution, unreadable version, a package type foreign to the image)."""
        seen = image_visibility(principal)

        def work() -> list[NonCompliantApp]:
            row = self.image(seen, ref)
            if not self._scanned(row):
                return []
            digests = list(row_ids_by_digest(row))
            self.reader.ensure_packages(digests)
            packages = self.db.run_read(
                lambda conn: packages_q.of_digests(conn, digests, name_part=app_name, compliant=False)
            )
            found: dict[tuple[str, str, str], NonCompliantApp] = {}
            for p in packages:
                key = (p.package.name, p.package.version, p.package.path)
                found.setdefault(
                    key,
                    NonCompliantApp(
                        f"{p.manifest_digest[7:19]}-{p.position}",
                        p.package.name,
                        p.package.path,
                        p.package.version,
                        p.package.layer_digest,
                    ),
                )
            return list(found.values())

        return await self.run(work)

    async def basic_image(self, principal: Principal, ref: ImageRef, *, os_name: str | None) -> list[BasicImage]:
        """The operating system the image's bottom layer brings (one per platform of a
        multi-architecture image when they differ)."""
        seen = image_visibility(principal)

        def work() -> list[BasicImage]:
            row = self.image(seen, ref)
            if not self._scanned(row):
                return []
            found: dict[tuple[str, str, str], BasicImage] = {}
            for digest in row_ids_by_digest(row):
                facts = self.reader.facts(digest)
                if facts is None or not (facts.distro_id or facts.distro_name):
                    continue
                name = facts.distro_name or facts.distro_id
                base = facts.layers[0].digest if facts.layers else ""
                found.setdefault((name, facts.distro_version, base), BasicImage(name, facts.distro_version, base))
            return [b for b in found.values() if _contains(b.os_name, os_name)]

        return await self.run(work)


def sensitive_item(finding: StoredFinding, scan_time: int, handled: bool) -> SensitiveItem:
    """A secret finding as HSS lists sensitive information."""
    content = finding.detail.get("redacted_match")
    return SensitiveItem(
        sensitive_info_id=finding.finding_key,
        severity=finding.severity,
        name=finding.rule_id,
        description=finding.title,
        position=finding.layer_digest,
        file_path=finding.path,
        content=content if isinstance(content, str) else "",
        latest_scan_time=scan_time,
        handle_status="handled" if handled else "unhandled",
        operate_accept="ignore" if handled else "do_not_ignore",
    )
