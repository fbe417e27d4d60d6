"""Scan results by manifest digest: a claim that lets one job at a time scan a digest (the holder
is a job; it holds while that job's lease is alive, so a dead worker's claim lapses with its
lease), the result and its findings written in one transaction (replacing, never adding to, what
was there), and what accounts decided about findings (handled vulnerabilities, whitelists)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.engine import Connection

from moorage.domain.bounded_json import load_document
from moorage.domain.jobs import JobStatus
from moorage.domain.security import ScanResultRecord, ScanResultStatus, ScanSummary
from moorage.domain.security_findings import ScanWrite
from moorage.metadata.database import now_ms
from moorage.metadata.tables import jobs
from moorage.metadata.tables import security_findings as findings_table
from moorage.metadata.tables import security_images as images_table
from moorage.metadata.tables import security_scan_results as t
from moorage.metadata.tables import security_vulnerabilities as vulns_table
from moorage.metadata.tables import security_vulnerability_handling as handling
from moorage.metadata.tables import security_whitelists as whitelists
from moorage.metadata.upsert import insert_ignore

MAX_REPORT_BYTES = 256 << 20
"""A stored report is refused past this size once decompressed (nothing read back is trusted)."""

_COLUMNS = (
    t.c.manifest_digest,
    t.c.status,
    t.c.failed_code,
    t.c.failed_message,
    t.c.holder_job_id,
    t.c.summary,
    t.c.severity_level,
    t.c.advisory_db,
    t.c.version,
    t.c.started_at,
    t.c.scanned_at,
)


def summary_to_json(summary: ScanSummary) -> str:
    """The compact JSON the ``summary`` column holds."""
    return json.dumps(
        {
            "v": [[i, s, list(a)] for i, s, a in summary.vulnerabilities],
            "m": [list(m) for m in summary.malicious_files],
            "u": [list(u) for u in summary.unsafe_settings],
            "s": summary.sensitive,
        },
        separators=(",", ":"),
    )


def summary_from_json(text: str) -> ScanSummary:
    """Inverse of :func:`summary_to_json` (an unreadable summary reads as empty)."""
    try:
        doc = load_document(text or "{}")
        return ScanSummary(
            vulnerabilities=tuple((str(i), str(s), tuple(str(x) for x in a)) for i, s, a in doc.get("v", [])),
            malicious_files=tuple((str(r), str(p)) for r, p in doc.get("m", [])),
            unsafe_settings=tuple((str(r), str(s)) for r, s in doc.get("u", [])),
            sensitive=int(doc.get("s", 0)),
        )
    except (ValueError, TypeError, AttributeError):
        return ScanSummary()


def _record(r: Sequence[Any]) -> ScanResultRecord:
    return ScanResultRecord(
        str(r[0]),
        ScanResultStatus(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        summary_from_json(str(r[5])),
        str(r[6]),
        str(r[7]),
        int(r[8]),
        int(r[9]),
        int(r[10]),
    )


def get(conn: Connection, digest: str, *, lock: bool = False) -> ScanResultRecord | None:
    """The result of a digest; ``lock``: hold its row until the transaction ends (PostgreSQL's
    ``FOR UPDATE``; SQLite's one writer holds everything already)."""
    query = select(*_COLUMNS).where(t.c.manifest_digest == digest)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return _record(row) if row else None


def get_many(conn: Connection, digests: Iterable[str]) -> dict[str, ScanResultRecord]:
    """Results of several digests."""
    wanted = list(dict.fromkeys(digests))
    found: dict[str, ScanResultRecord] = {}
    for start in range(0, len(wanted), 500):
        for row in conn.execute(select(*_COLUMNS).where(t.c.manifest_digest.in_(wanted[start : start + 500]))):
            found[str(row[0])] = _record(row)
    return found


def report(conn: Connection, digest: str) -> dict[str, Any] | None:
    """The stored report of a digest, decompressed (None when there is none)."""
    blob = conn.execute(select(t.c.report).where(t.c.manifest_digest == digest)).scalar()
    if not blob:
        return None
    inflater = zlib.decompressobj()
    raw = inflater.decompress(bytes(blob), MAX_REPORT_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"the stored report of {digest} is larger than {MAX_REPORT_BYTES} bytes")
    found: dict[str, Any] = load_document(raw)
    return found


def _alive_holders(now: int) -> Any:
    return select(jobs.c.id).where(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until >= now)


def ensure_row(conn: Connection, digest: str) -> None:
    """A result row for a digest a scan was asked for (``NEW`` until a job claims it)."""
    insert_ignore(
        conn,
        t,
        {"manifest_digest": digest, "status": ScanResultStatus.NEW, "started_at": now_ms()},
        conflict=["manifest_digest"],
    )


def claim(conn: Connection, digest: str, job_id: str) -> bool:
    """Make ``job_id`` the digest's scanner, unless another live job holds it. True when claimed
    (also when this job held it already: a retry after its worker died)."""
    now = now_ms()
    ensure_row(conn, digest)
    result = conn.execute(
        update(t)
        .where(
            t.c.manifest_digest == digest,
            or_(
                t.c.status != ScanResultStatus.SCANNING,
                t.c.holder_job_id == job_id,
                t.c.holder_job_id.notin_(_alive_holders(now)),
            ),
        )
        .values(status=ScanResultStatus.SCANNING, holder_job_id=job_id, started_at=now)
    )
    return bool(result.rowcount)


def holder(conn: Connection, digest: str) -> tuple[ScanResultStatus, str] | None:
    """(status, holding job) of a digest's result row."""
    row = conn.execute(select(t.c.status, t.c.holder_job_id).where(t.c.manifest_digest == digest)).first()
    return (ScanResultStatus(row[0]), str(row[1])) if row else None


def _replace_findings(conn: Connection, digest: str, write: ScanWrite) -> None:
    conn.execute(delete(vulns_table).where(vulns_table.c.manifest_digest == digest))
    conn.execute(delete(findings_table).where(findings_table.c.manifest_digest == digest))
    unique_vulns = {v.finding_key: v for v in write.vulnerabilities}
    rows = [
        {
            "manifest_digest": digest,
            "finding_key": v.finding_key,
            "vul_id": v.vul_id[:128],
            "aliases": " ".join(v.aliases),
            "severity": v.severity,
            "score": "" if v.score is None else f"{v.score:.1f}",
            "ecosystem": v.ecosystem,
            "package_name": v.package_name[:255],
            "package_version": v.package_version[:255],
            "purl": v.purl,
            "path": v.path,
            "layer_digest": v.layer_digest,
            "fixed_version": v.fixed_version[:255],
            "fix_state": v.fix_state,
            "title": v.title,
        }
        for v in unique_vulns.values()
    ]
    for start in range(0, len(rows), 500):
        conn.execute(vulns_table.insert(), rows[start : start + 500])
    unique = {f.finding_key: f for f in write.findings}
    others = [
        {
            "manifest_digest": digest,
            "finding_key": f.finding_key,
            "category": f.category,
            "rule_id": f.rule_id[:128],
            "severity": f.severity,
            "path": f.path,
            "layer_digest": f.layer_digest,
            "title": f.title,
            "detail": json.dumps(f.detail, separators=(",", ":")),
        }
        for f in unique.values()
    ]
    for start in range(0, len(others), 500):
        conn.execute(findings_table.insert(), others[start : start + 500])


def store(conn: Connection, digest: str, job_id: str | None, write: ScanWrite) -> bool:
    """Replace the digest's result and findings with a scan's, if ``job_id`` still holds the digest
    (None: a re-match, which needs no claim). False when another job took the digest over."""
    condition = [t.c.manifest_digest == digest]
    if job_id is not None:
        condition.append(t.c.holder_job_id == job_id)
    else:
        condition.append(t.c.status == ScanResultStatus.SUCCESS)  # a re-match never overrides a scan in progress
    blob = zlib.compress(json.dumps(write.report, separators=(",", ":")).encode(), 6)
    values: dict[str, Any] = {
        "status": ScanResultStatus.SUCCESS,
        "failed_code": write.failed_code,
        "failed_message": write.failed_message[:2000],
        "holder_job_id": "",
        "scanners": write.scanners,
        "report": blob,
        "summary": summary_to_json(write.summary),
        "vul_num": write.summary.vul_count(),
        "malicious_file_num": len(write.summary.malicious_files),
        "unsafe_setting_num": len(write.summary.unsafe_settings),
        "sensitive_num": write.summary.sensitive,
        "severity_level": write.severity_level,
        "advisory_db": write.advisory_db,
        "scanner_version": write.scanner_version,
        "version": t.c.version + 1,
    }
    if job_id is not None:
        values["scanned_at"] = now_ms()
    result = conn.execute(update(t).where(and_(*condition)).values(**values))
    if not result.rowcount:
        return False
    _replace_findings(conn, digest, write)
    return True


def store_uploaded(conn: Connection, key: str, write: ScanWrite) -> None:
    """Store a result a pipeline uploaded, under its own key (``security_cicd.result_key``: never a
    registry digest), replacing what the key held."""
    ensure_row(conn, key)
    conn.execute(update(t).where(t.c.manifest_digest == key).values(status=ScanResultStatus.SUCCESS))
    stored = store(conn, key, None, write)
    assert stored  # the row exists and is SUCCESS: nothing else writes these keys
    conn.execute(update(t).where(t.c.manifest_digest == key).values(scanned_at=now_ms()))


def fail(conn: Connection, digest: str, job_id: str, *, code: str, message: str) -> bool:
    """Record a failed scan (the previous findings are dropped: they no longer describe a checked image)."""
    result = conn.execute(
        update(t)
        .where(t.c.manifest_digest == digest, t.c.holder_job_id == job_id)
        .values(
            status=ScanResultStatus.FAILED,
            failed_code=code,
            failed_message=message[:2000],
            holder_job_id="",
            report=None,
            summary="{}",
            vul_num=0,
            malicious_file_num=0,
            unsafe_setting_num=0,
            sensitive_num=0,
            severity_level="",
            version=t.c.version + 1,
            scanned_at=now_ms(),
        )
    )
    if not result.rowcount:
        return False
    conn.execute(delete(vulns_table).where(vulns_table.c.manifest_digest == digest))
    conn.execute(delete(findings_table).where(findings_table.c.manifest_digest == digest))
    return True


def release(conn: Connection, digest: str, job_id: str) -> None:
    """Give up a claim without a result (a stopped scan): the row reads as it did before, or unscanned."""
    conn.execute(
        update(t)
        .where(t.c.manifest_digest == digest, t.c.holder_job_id == job_id, t.c.report.is_not(None))
        .values(status=ScanResultStatus.SUCCESS, holder_job_id="")
    )
    conn.execute(
        update(t)
        .where(t.c.manifest_digest == digest, t.c.holder_job_id == job_id)
        .values(status=ScanResultStatus.NEW, holder_job_id="")
    )


def stale_digests(conn: Connection, advisory_db: str, *, after: str, limit: int) -> list[str]:
    """Successfully scanned digests matched against another database than ``advisory_db``, in
    digest order after ``after`` (the re-match walks them in batches)."""
    rows = conn.execute(
        select(t.c.manifest_digest)
        .where(
            t.c.status == ScanResultStatus.SUCCESS,
            t.c.advisory_db != advisory_db,
            t.c.report.is_not(None),
            t.c.manifest_digest > after,
        )
        .order_by(t.c.manifest_digest)
        .limit(limit)
    )
    return [str(r[0]) for r in rows]


def vulnerability_rows(conn: Connection, digest: str) -> list[dict[str, Any]]:
    """The stored vulnerability findings of a digest (for the detail queries and tests)."""
    rows = conn.execute(
        select(vulns_table)
        .where(vulns_table.c.manifest_digest == digest)
        .order_by(vulns_table.c.vul_id, vulns_table.c.finding_key)
    )
    return [dict(r._mapping) for r in rows]


def ignored_vulnerabilities(
    conn: Connection, domain_id: str, digest: str, *, image_type: str, row_id: int
) -> frozenset[str]:
    """Vulnerability ids an account set aside for one image: handled as ignored for its content, or
    whitelisted for every image (of its types: a comma-separated list, empty for all) or for this
    image (a platform image also by its multi-architecture image's id)."""
    ignored = {
        str(r[0])
        for r in conn.execute(
            select(handling.c.vul_id).where(
                handling.c.domain_id == domain_id,
                handling.c.manifest_digest == digest,
                handling.c.handle_status == "ignored",
            )
        )
    }
    parent = conn.execute(select(images_table.c.parent_id).where(images_table.c.id == row_id)).scalar()
    row_ids = {row_id} if parent is None else {row_id, int(parent)}
    for vul_id, rule_type, wl_image_type, listed in conn.execute(
        select(whitelists.c.vul_id, whitelists.c.rule_type, whitelists.c.image_type, whitelists.c.image_row_ids).where(
            whitelists.c.domain_id == domain_id
        )
    ):
        if rule_type == "all_image":
            types = [part.strip() for part in str(wl_image_type).split(",") if part.strip()]
            if not types or image_type in types:
                ignored.add(str(vul_id))
            continue
        try:
            if row_ids & {int(x) for x in load_document(listed or "[]")}:
                ignored.add(str(vul_id))
        except (ValueError, TypeError):
            continue
    return frozenset(ignored)
