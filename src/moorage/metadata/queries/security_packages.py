"""The packages of each scan result as rows, taken from its stored report the first time a detail
query needs them (and again when the result changes: a rescan or a re-match bumps its version).
They let the app lists filter, join and page in SQL instead of reading every report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from moorage.domain.security import ScanResultStatus
from moorage.domain.security_findings import PackageRecord, StoredPackage
from moorage.metadata.database import now_ms
from moorage.metadata.tables import security_package_index as index_t
from moorage.metadata.tables import security_packages as t
from moorage.metadata.tables import security_scan_results as results_t
from moorage.metadata.upsert import upsert


def stale(conn: Connection, digests: Iterable[str]) -> list[tuple[str, int]]:
    """(digest, result version) of successfully scanned digests whose package rows are missing or
    were taken from an older version of the result."""
    wanted = list(dict.fromkeys(digests))
    found: list[tuple[str, int]] = []
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = conn.execute(
            select(results_t.c.manifest_digest, results_t.c.version, index_t.c.result_version)
            .select_from(results_t.outerjoin(index_t, index_t.c.manifest_digest == results_t.c.manifest_digest))
            .where(
                results_t.c.manifest_digest.in_(chunk),
                results_t.c.status == ScanResultStatus.SUCCESS,
                results_t.c.report.is_not(None),
            )
        )
        found += [(str(d), int(v)) for d, v, indexed in rows if indexed is None or int(indexed) != int(v)]
    return found


def replace(conn: Connection, digest: str, version: int, packages: Sequence[PackageRecord]) -> None:
    """Make ``packages`` the digest's package rows, taken from result version ``version``."""
    conn.execute(delete(t).where(t.c.manifest_digest == digest))
    rows = [
        {
            "manifest_digest": digest,
            "position": n,
            "ecosystem": p.ecosystem[:16],
            "name": p.name[:255],
            "version": p.version[:255],
            "purl": p.purl,
            "path": p.path,
            "layer_digest": p.layer_digest[:140],
            "compliant": p.compliant,
            "note": p.note[:255],
        }
        for n, p in enumerate(packages)
    ]
    for start in range(0, len(rows), 500):
        conn.execute(t.insert(), rows[start : start + 500])
    upsert(
        conn,
        index_t,
        {"manifest_digest": digest, "result_version": version, "indexed_at": now_ms()},
        conflict=["manifest_digest"],
        update=["result_version", "indexed_at"],
    )


def _stored(r: Any) -> StoredPackage:
    return StoredPackage(
        str(r.manifest_digest),
        int(r.position),
        PackageRecord(
            str(r.ecosystem),
            str(r.name),
            str(r.version),
            str(r.purl),
            str(r.path),
            str(r.layer_digest),
            bool(r.compliant),
            str(r.note),
        ),
    )


def of_digests(
    conn: Connection, digests: Iterable[str], *, name_part: str | None = None, compliant: bool | None = None
) -> list[StoredPackage]:
    """Package rows of some digests, by digest and inventory order (``name_part``: the name
    contains it; ``compliant``: only those)."""
    wanted = list(dict.fromkeys(digests))
    found: list[StoredPackage] = []
    for start in range(0, len(wanted), 500):
        query = select(t).where(t.c.manifest_digest.in_(wanted[start : start + 500]))
        if name_part:
            query = query.where(t.c.name.contains(name_part, autoescape=True))
        if compliant is not None:
            query = query.where(t.c.compliant.is_(compliant))
        found += [_stored(r) for r in conn.execute(query.order_by(t.c.manifest_digest, t.c.position))]
    return found
