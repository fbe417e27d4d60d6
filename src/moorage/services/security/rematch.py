"""Re-matching every stored inventory against a new advisory database: the stored reports hold the
inventories, so no layer is read again. Platform images are re-matched first, then each
multi-architecture image's result is rebuilt from its platforms'."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy.engine import Connection

import moorage
from moorage.domain.security import ScanResultStatus
from moorage.domain.security_findings import ScanWrite
from moorage.metadata.database import Database
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.queries import security_tasks as state_q
from moorage.scanner.matching import Matcher
from moorage.services.security import engine
from moorage.services.security.results import apply_to_rows
from moorage.services.security.scanning import INDEX_REPORT_SCHEMA

log = logging.getLogger(__name__)

MATCHED_STATE = "advisory_db_matched"
"""The ``security_state`` key holding the build time of the database every result was matched against."""
BATCH = 100


def current_database(vulndb_path: Path) -> str:
    """The build time of the installed advisory database (``none`` when there is none)."""
    store = engine.open_advisories(vulndb_path)
    try:
        return engine.database_id(store)
    finally:
        if store is not None:
            store.close()


def rematch_all(
    db: Database,
    vulndb_path: Path,
    *,
    check_stopped: Callable[[], None] = lambda: None,
    progress: Callable[[int], None] = lambda _n: None,
) -> int:
    """Re-match every result not matched against the installed database; how many were."""
    store = engine.open_advisories(vulndb_path)
    if store is None:
        return 0
    try:
        current = engine.database_id(store)
        matcher = Matcher(store)
        done = 0
        indexes: list[str] = []
        after = ""
        while True:
            check_stopped()
            batch = db.run_read(partial(results_q.stale_digests, advisory_db=current, after=after, limit=BATCH))
            if not batch:
                break
            for digest in batch:
                report = db.run_read(partial(results_q.report, digest=digest))
                if report is None:
                    continue
                if report.get("schema") == INDEX_REPORT_SCHEMA:
                    indexes.append(digest)
                    continue
                try:
                    write = engine.rematch_report(report, store, matcher)
                except Exception:
                    log.exception("re-matching %s failed; it keeps its old result", digest)
                    continue
                db.run_write(partial(_store, digest=digest, write=write))
                done += 1
                progress(done)
            after = batch[-1]
        for digest in indexes:
            db.run_write(partial(_rebuild_index, digest=digest, current=current))
            done += 1
            progress(done)
        db.run_write(lambda conn: state_q.set_state(conn, MATCHED_STATE, current))
        return done
    finally:
        store.close()


def _store(conn: Connection, digest: str, write: ScanWrite) -> None:
    if results_q.store(conn, digest, None, write):
        apply_to_rows(conn, digest)


def _rebuild_index(conn: Connection, digest: str, current: str) -> None:
    report = results_q.report(conn, digest)
    if report is None:
        return
    children = results_q.get_many(conn, (p.get("digest", "") for p in report.get("platforms", [])))
    if not children or any(c.status is not ScanResultStatus.SUCCESS for c in children.values()):
        return
    summary = engine.merge_summaries([c.summary for c in children.values()])
    partial = next((c for c in children.values() if c.failed_code), None)
    write = ScanWrite(
        summary=summary,
        severity_level=summary.level().value,
        report=report,
        vulnerabilities=(),
        findings=(),
        scanners=",".join(engine.ALL_SCANNERS),
        advisory_db=current,
        scanner_version=moorage.__version__,
        failed_code=partial.failed_code if partial else "",
        failed_message=partial.failed_message if partial else "",
    )
    _store(conn, digest, write)
