"""Scan results as events: a digest's result (scanned once, whoever holds it) is an event of every
repository that holds the manifest, so each owner's webhooks and audit log see it."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from moorage.domain.events import Operation, Result, artifact_event
from moorage.domain.security_findings import ScanWrite
from moorage.metadata.queries import events as q
from moorage.services.events.recorder import record_events

MAX_HOLDERS = 100
"""Repositories one scan result is reported to at most (a base image held everywhere stays one write)."""


def record_scan(
    conn: Connection, digest: str, *, write: ScanWrite | None, failed_code: str = "", failed_message: str = ""
) -> None:
    """Record that ``digest`` was scanned (``write``: its stored result) or that its scan failed."""
    detail: dict[str, object]
    if write is not None:
        summary = write.summary
        detail = {
            "severity": write.severity_level,
            "vulnerabilities": len(summary.vulnerabilities),
            "malicious_files": len(summary.malicious_files),
            "unsafe_settings": len(summary.unsafe_settings),
            "sensitive": summary.sensitive,
            "scanner_version": write.scanner_version,
        }
        result = Result.SUCCESS
    else:
        detail = {"failed_code": failed_code, "failed_message": failed_message[:512]}
        result = Result.FAILURE
    record_events(
        conn,
        *(
            artifact_event(
                Operation.SCAN,
                instance_id=instance_id,
                repository=repository,
                namespace=namespace,
                domain_id=domain_id,
                tag=tag,
                digest=digest,
                result=result,
                detail=detail,
            )
            for instance_id, namespace, repository, domain_id, tag in q.artifact_holders(
                conn, digest, limit=MAX_HOLDERS
            )
        ),
    )
