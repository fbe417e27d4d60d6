"""The detail queries' reads: which image row a request names, the stored findings of some
digests (vulnerabilities, and malware, secrets, settings, build commands), and the same findings
across an account's images, joined with the image rows that hold them.

An image row's findings are those of its digest; a multi-architecture image has none of its own
(its result is the union of its platform images'), so its platform rows' digests are read
instead: every account-wide query joins all rows of the account, platform rows included, and
reports a platform row under its multi-architecture image (``tag_row_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.security import ImageRow, ImageVisibility, ScanResultStatus, ScanStatus
from moorage.domain.security_cicd import CICD_IMAGE_PREFIX
from moorage.domain.security_findings import StoredFinding, StoredVulnerability
from moorage.domain.security_images import ImageRef, RowOfImage
from moorage.metadata.queries import security_cicd as cicd_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.tables import security_findings as findings_t
from moorage.metadata.tables import security_images as images_t
from moorage.metadata.tables import security_registries as registries_t
from moorage.metadata.tables import security_scan_results as results_t
from moorage.metadata.tables import security_vulnerabilities as vulns_t

MAX_DETAIL_BYTES = 64 << 10
"""A finding's stored JSON detail is not parsed past this size (nothing read back is trusted)."""


def _float(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


_VULNERABILITY_COLUMNS = tuple(
    vulns_t.c[name]
    for name in (
        "manifest_digest",
        "finding_key",
        "vul_id",
        "aliases",
        "severity",
        "score",
        "ecosystem",
        "package_name",
        "package_version",
        "purl",
        "path",
        "layer_digest",
        "fixed_version",
        "fix_state",
        "title",
    )
)
"""What ``_vulnerability`` reads, in its order: rows are unpacked by position (reading 15 fields of
a row by name cost more than the query itself for an image of 1,000 findings)."""


def _vulnerability(r: Any) -> StoredVulnerability:
    (
        digest,
        key,
        vul_id,
        aliases,
        severity,
        score,
        ecosystem,
        name,
        version,
        purl,
        path,
        layer,
        fixed,
        state,
        title,
    ) = r
    return StoredVulnerability(
        manifest_digest=str(digest),
        finding_key=str(key),
        vul_id=str(vul_id),
        aliases=tuple(str(aliases).split()),
        severity=str(severity),
        score=_float(str(score)),
        ecosystem=str(ecosystem),
        package_name=str(name),
        package_version=str(version),
        purl=str(purl),
        path=str(path),
        layer_digest=str(layer),
        fixed_version=str(fixed),
        fix_state=str(state),
        title=str(title),
    )


def _detail(text: str) -> dict[str, Any]:
    if len(text) > MAX_DETAIL_BYTES:
        return {}
    try:
        found = load_document(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _finding(r: Any) -> StoredFinding:
    return StoredFinding(
        finding_key=str(r.finding_key),
        category=str(r.category),
        rule_id=str(r.rule_id),
        severity=str(r.severity),
        path=str(r.path),
        layer_digest=str(r.layer_digest),
        title=str(r.title),
        detail=_detail(str(r.detail)),
        manifest_digest=str(r.manifest_digest),
    )


# Naming an image ------------------------------------------------------------------------------------


def resolve(conn: Connection, seen: ImageVisibility, ref: ImageRef) -> ImageRow | None:
    """The image row a request names, among those the caller sees: by row id (digits), by manifest
    digest, or by the image id (config digest hex, whole or a prefix of at least 12), narrowed by
    the other fields. A multi-architecture image comes with its platform images."""
    text = ref.image_id.strip()
    if text.startswith(CICD_IMAGE_PREFIX):  # an image a pipeline uploaded (ListCicdImages' image_id)
        digits = text.removeprefix(CICD_IMAGE_PREFIX)
        return cicd_q.image_row(conn, seen.domain_id, int(digits)) if digits.isdigit() and len(digits) < 19 else None
    c = images_t.c
    query = select(c.id).where(images_q.visible(seen))
    if text.isdigit() and len(text) < 19:
        query = query.where(c.id == int(text))
    else:
        if text.startswith(("sha256:", "sha512:")):
            query = query.where(c.image_digest == text)
        elif len(text) >= 12 and all(ch in "0123456789abcdef" for ch in text.lower()):
            query = query.where(c.image_id.startswith(text.lower(), autoescape=True))
        else:
            return None
        for column, value in (
            (c.namespace, ref.namespace),
            (c.image_name, ref.image_name),
            (c.image_version, ref.tag),
            (c.image_type, ref.image_type),
            (c.instance_id, ref.instance_id),
        ):
            if value:
                query = query.where(column == value)
    for row_id in [int(r[0]) for r in conn.execute(query.order_by(c.parent_id.is_not(None), c.id).limit(1))]:
        row = images_q.by_id(conn, row_id)
        if row is not None and row.domain_id == seen.domain_id:
            return _with_uploaded_result(conn, row)
    return None


def _with_uploaded_result(conn: Connection, row: ImageRow) -> ImageRow:
    """A scanned row whose digest has no registry result read its account's pipeline upload
    instead (a push that reused the upload: ``services/security/cicd_reuse.py``)."""
    if row.children or row.scan_status is not ScanStatus.SUCCESS:
        return row
    found = conn.execute(
        select(results_t.c.status).where(results_t.c.manifest_digest == row.image_digest)
    ).scalar_one_or_none()
    if found == ScanResultStatus.SUCCESS.value:
        return row
    upload = cicd_q.latest_for_digest(conn, row.domain_id, row.image_digest)
    if upload is None or upload.scan_status != ScanStatus.SUCCESS.value:
        return row
    return replace(row, image_digest=upload.result_key)


def detail_digests(row: ImageRow) -> tuple[str, ...]:
    """The digests whose findings are the row's (its platform images' for a multi-architecture image)."""
    if row.children:
        return tuple(dict.fromkeys(child.image_digest for child in row.children))
    return (row.image_digest,)


# Findings of digests --------------------------------------------------------------------------------


def vulnerabilities(
    conn: Connection, digests: Iterable[str], *, vul_ids: Sequence[str] = ()
) -> list[StoredVulnerability]:
    """Vulnerability findings of some digests, most severe first (``vul_ids``: only those)."""
    wanted = list(dict.fromkeys(digests))
    found: list[StoredVulnerability] = []
    for start in range(0, len(wanted), 500):
        query = select(*_VULNERABILITY_COLUMNS).where(vulns_t.c.manifest_digest.in_(wanted[start : start + 500]))
        if vul_ids:
            query = query.where(vulns_t.c.vul_id.in_(list(vul_ids)))
        found += [_vulnerability(r) for r in conn.execute(query)]
    return found


def findings(conn: Connection, digests: Iterable[str], categories: Sequence[str]) -> list[StoredFinding]:
    """Other findings of some digests in some categories."""
    wanted = list(dict.fromkeys(digests))
    found: list[StoredFinding] = []
    for start in range(0, len(wanted), 500):
        rows = conn.execute(
            select(findings_t)
            .where(
                findings_t.c.manifest_digest.in_(wanted[start : start + 500]),
                findings_t.c.category.in_(list(categories)),
            )
            .order_by(findings_t.c.manifest_digest, findings_t.c.finding_key)
        )
        found += [_finding(r) for r in rows]
    return found


# Across an account's images -------------------------------------------------------------------------


def _rows_of_account(seen: ImageVisibility, row_ids: Sequence[int] | None) -> Any:
    """The successfully scanned rows the caller sees (platform rows too), with their listed image."""
    child = images_t
    parent = images_t.alias("parent")
    query = (
        select(
            func.coalesce(child.c.parent_id, child.c.id).label("tag_row_id"),
            child.c.id.label("row_id"),
            child.c.image_digest.label("manifest_digest"),
            child.c.image_type,
            registries_t.c.name.label("registry_name"),
            registries_t.c.type.label("registry_type"),
            child.c.namespace,
            child.c.image_name,
            child.c.image_version,
            func.coalesce(parent.c.image_digest, child.c.image_digest).label("image_digest"),
            child.c.image_id,
            func.coalesce(parent.c.image_size, child.c.image_size).label("image_size"),
            func.coalesce(parent.c.is_multiple_arch, child.c.is_multiple_arch).label("is_multiple_arch"),
            child.c.instance_id,
            child.c.latest_scan_time,
            child.c.created_at,
        )
        .select_from(
            child.join(registries_t, registries_t.c.id == child.c.registry_id).outerjoin(
                parent, parent.c.id == child.c.parent_id
            )
        )
        .where(images_q.visible(seen, child), child.c.scan_status == ScanStatus.SUCCESS)
    )
    if row_ids is not None:
        query = query.where(func.coalesce(child.c.parent_id, child.c.id).in_(list(row_ids)))
    return query


def _image(r: Any) -> RowOfImage:
    return RowOfImage(
        int(r.tag_row_id),
        int(r.row_id),
        str(r.manifest_digest),
        str(r.image_type),
        str(r.registry_name),
        str(r.registry_type),
        str(r.namespace),
        str(r.image_name),
        str(r.image_version),
        str(r.image_digest),
        str(r.image_id),
        int(r.image_size),
        bool(r.is_multiple_arch),
        str(r.instance_id),
        int(r.latest_scan_time),
        int(r.created_at),
    )


def scanned_rows(conn: Connection, seen: ImageVisibility, *, row_ids: Sequence[int] | None = None) -> list[RowOfImage]:
    """The successfully scanned image rows the caller sees (platform rows too, multi-architecture
    rows left out: they hold no findings of their own), optionally only those of some listed images."""
    query = _rows_of_account(seen, row_ids).where(images_t.c.is_multiple_arch.is_(False))
    return [_image(r) for r in conn.execute(query.order_by(images_t.c.id))]


def account_vulnerabilities(
    conn: Connection, seen: ImageVisibility, *, vul_ids: Sequence[str] = (), row_ids: Sequence[int] | None = None
) -> list[tuple[RowOfImage, StoredVulnerability]]:
    """Every vulnerability finding in the images the caller sees, with the image (``vul_ids``: only
    those, by main id; ``row_ids``: only in those listed images)."""
    rows = {r.row_id: r for r in scanned_rows(conn, seen, row_ids=row_ids)}
    by_digest: dict[str, list[RowOfImage]] = {}
    for row in rows.values():
        by_digest.setdefault(row.manifest_digest, []).append(row)
    found: list[tuple[RowOfImage, StoredVulnerability]] = []
    for vulnerability in vulnerabilities(conn, by_digest, vul_ids=vul_ids):
        found += [(row, vulnerability) for row in by_digest[vulnerability.manifest_digest]]
    return found


def account_findings(
    conn: Connection, seen: ImageVisibility, categories: Sequence[str], *, row_ids: Sequence[int] | None = None
) -> list[tuple[RowOfImage, StoredFinding]]:
    """Every other finding of some categories in the images the caller sees, with the image."""
    rows = scanned_rows(conn, seen, row_ids=row_ids)
    by_digest: dict[str, list[RowOfImage]] = {}
    for row in rows:
        by_digest.setdefault(row.manifest_digest, []).append(row)
    found: list[tuple[RowOfImage, StoredFinding]] = []
    for finding in findings(conn, by_digest, categories):
        found += [(row, finding) for row in by_digest[finding.manifest_digest]]
    return found


def account_digests(conn: Connection, domain_id: str) -> list[str]:
    """Every digest of the account's image rows (multi-architecture images' too), for recounting."""
    return sorted(
        str(r[0])
        for r in conn.execute(select(images_t.c.image_digest).where(images_t.c.domain_id == domain_id).distinct())
    )


def result_versions(conn: Connection, digests: Iterable[str]) -> dict[str, int]:
    """The version of each digest's stored result (caches of parsed reports key on it)."""
    wanted = list(dict.fromkeys(digests))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        found.update(
            (str(d), int(v))
            for d, v in conn.execute(
                select(results_t.c.manifest_digest, results_t.c.version).where(
                    results_t.c.manifest_digest.in_(wanted[start : start + 500])
                )
            )
        )
    return found
