"""Scan results into image rows: every row, of every account, whose content is a digest gets the
digest's status, counts, level and scan time; each account's handled and whitelisted
vulnerabilities are left out of its own counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, assert_never

from sqlalchemy.engine import Connection

from moorage.domain.security import ScanResultRecord, ScanResultStatus, ScanStatus
from moorage.metadata.queries import security_cicd as cicd_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_results as results_q


def row_values(result: ScanResultRecord | None, ignored: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The scan columns of a row whose content has ``result`` (None: never scanned)."""
    unscanned = {
        "scan_status": ScanStatus.UNSCAN.value,
        "scan_failed_code": "",
        "latest_scan_time": 0,
        "vul_num": 0,
        "unsafe_setting_num": 0,
        "malicious_file_num": 0,
        "severity_level": "",
    }
    if result is None:
        return unscanned
    match result.status:
        case ScanResultStatus.NEW:
            return unscanned
        case ScanResultStatus.SCANNING:
            return {"scan_status": ScanStatus.SCANNING.value}
        case ScanResultStatus.FAILED:
            return {
                "scan_status": ScanStatus.FAILED.value,
                "scan_failed_code": result.failed_code,
                "latest_scan_time": result.scanned_at,
                "vul_num": 0,
                "unsafe_setting_num": 0,
                "malicious_file_num": 0,
                "severity_level": "",
            }
        case ScanResultStatus.SUCCESS:
            summary = result.summary
            return {
                "scan_status": ScanStatus.SUCCESS.value,
                "scan_failed_code": result.failed_code,
                "latest_scan_time": result.scanned_at,
                "vul_num": summary.vul_count(ignored),
                "unsafe_setting_num": len(summary.unsafe_settings),
                "malicious_file_num": len(summary.malicious_files),
                "severity_level": summary.level(ignored).value,
            }
        case _:
            assert_never(result.status)


def apply_to_rows(conn: Connection, digest: str) -> int:
    """Bring every row whose content is ``digest`` in line with its result; how many rows."""
    result = results_q.get(conn, digest)
    rows = images_q.rows_with_digest(conn, digest)
    if result is None or result.status is not ScanResultStatus.SUCCESS:
        images_q.apply_scan_state(conn, [r[0] for r in rows], row_values(result))
        return len(rows)
    for row_id, domain_id, image_type in rows:
        ignored = results_q.ignored_vulnerabilities(conn, domain_id, digest, image_type=image_type, row_id=row_id)
        images_q.apply_scan_state(conn, [row_id], row_values(result, ignored))
    return len(rows)


def restore_rows(conn: Connection, row_ids: Sequence[int]) -> None:
    """Rows left waiting by a stopped task read as their content's result again (or unscanned)."""
    digests: set[str] = set()
    for row_id in row_ids:
        row = images_q.by_id(conn, row_id)
        if row is not None:
            digests.add(row.image_digest)
            digests.update(child.image_digest for child in row.children)
    for digest in digests:
        apply_to_rows(conn, digest)


def recount_domain(conn: Connection, domain_id: str, digests: Sequence[str]) -> None:
    """Recount an account's rows of some digests after its handling or whitelists changed (the
    detail-query operations call this)."""
    for digest in dict.fromkeys(digests):
        result = results_q.get(conn, digest)
        key = digest
        if result is None or result.status is ScanResultStatus.NEW:
            # No registry result: the account's pipeline upload of the digest, when a push reused it
            # (services/security/cicd_reuse.py), is what its rows show.
            upload = cicd_q.latest_for_digest(conn, domain_id, digest)
            if upload is not None and upload.scan_status == ScanStatus.SUCCESS.value:
                key, result = upload.result_key, results_q.get(conn, upload.result_key)
        for row_id, row_domain, image_type in images_q.rows_with_digest(conn, digest):
            if row_domain != domain_id:
                continue
            ignored = (
                results_q.ignored_vulnerabilities(conn, domain_id, key, image_type=image_type, row_id=row_id)
                if result is not None and result.status is ScanResultStatus.SUCCESS
                else frozenset()
            )
            images_q.apply_scan_state(conn, [row_id], row_values(result, ignored))
