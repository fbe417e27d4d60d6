"""Scanning one manifest digest, at most one job at a time, with its result written exactly once.

A job claims the digest's result row (``security_results.claim``); another job wanting the same
digest waits for the holder and reuses its result. The claim belongs to the job, not to the worker
process: when a worker dies mid-scan, its job's lease lapses, another worker runs the job again,
and that run finds the claim is its own and scans from the start. The result and its findings
replace what the row held in one transaction, so a digest scanned twice never has its findings
twice.

An index (a multi-architecture image) is scanned platform by platform, each platform image under
its own claim and result; the index's result is their union.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moorage
from moorage.domain.jobs import JobStopped
from moorage.domain.manifests import ImageIndex, select_platforms
from moorage.domain.security import ScanResultRecord, ScanResultStatus
from moorage.domain.security_findings import ScanWrite
from moorage.metadata.database import Database
from moorage.metadata.queries import security_results as results_q
from moorage.services.security import engine
from moorage.services.security.failures import ScanFailure, failure_from
from moorage.services.security.results import apply_to_rows
from moorage.services.security.sources import ImageOrigin

log = logging.getLogger(__name__)

INDEX_REPORT_SCHEMA = "moorage-registry-index/1"
WAIT_POLL_SECONDS = 0.5


@dataclass
class DigestScanner:
    """Scans digests for one job."""

    db: Database
    job_id: str
    options: engine.EngineOptions
    vulndb_path: Path
    stop_check: Callable[[], None] = lambda: None
    """Raises (the job runner's ``JobStopped``) when the job must stop; called between steps."""

    def scan(self, origin: ImageOrigin, digest: str, *, not_before: int) -> ScanResultRecord:
        """The digest's result, scanned by this job unless a result newer than ``not_before`` (epoch
        ms) against the current advisory database exists or another job produces one meanwhile."""
        current_db = self._current_database()
        while True:
            self.stop_check()
            outcome = self.db.run_write(lambda conn: self._reuse_or_claim(conn, digest, not_before, current_db))
            if isinstance(outcome, ScanResultRecord):
                return outcome
            if outcome:
                break
            time.sleep(WAIT_POLL_SECONDS)
        try:
            self._scan_claimed(origin, digest, not_before)
        except BaseException:
            self.db.run_write(lambda conn: self._give_back(conn, digest))
            raise
        found = self.db.run_read(lambda conn: results_q.get(conn, digest))
        assert found is not None
        return found

    def _reuse_or_claim(self, conn: Any, digest: str, not_before: int, current_db: str) -> ScanResultRecord | bool:
        """In one write transaction, with the result row locked: a fresh result to reuse, else
        whether this job now holds the digest. Checking freshness and claiming apart let a waiter
        read "scanning", then claim the row the holder had just finished, and scan it again."""
        existing = results_q.get(conn, digest, lock=True)
        if existing is not None and self._fresh(existing, not_before, current_db):
            # A row recorded since (a push of known content, in any account) reads the result too.
            apply_to_rows(conn, digest)
            return existing
        claimed = results_q.claim(conn, digest, self.job_id)
        if claimed:
            apply_to_rows(conn, digest)
        return claimed

    def _give_back(self, conn: Any, digest: str) -> None:
        results_q.release(conn, digest, self.job_id)
        apply_to_rows(conn, digest)

    def _current_database(self) -> str:
        store = engine.open_advisories(self.vulndb_path)
        try:
            return engine.database_id(store)
        finally:
            if store is not None:
                store.close()

    @staticmethod
    def _fresh(result: ScanResultRecord, not_before: int, current_db: str) -> bool:
        if result.status is ScanResultStatus.SUCCESS:
            return result.scanned_at >= not_before and result.advisory_db == current_db
        return result.status is ScanResultStatus.FAILED and result.scanned_at >= not_before

    def _scan_claimed(self, origin: ImageOrigin, digest: str, not_before: int) -> None:
        try:
            document = origin.document(digest)
            if isinstance(document, ImageIndex):
                self._scan_index(origin, digest, document, not_before)
                return
            write = self._scan_image(origin, digest)
        except Exception as exc:
            if _is_stop(exc):
                raise
            failure = failure_from(exc)
            if failure.code in ("unknown_error", "database_error"):
                log.warning("scan of %s failed: %s", digest, exc, exc_info=True)
            self._record_failure(digest, failure)
            return
        stored = self.db.run_write(
            lambda conn: results_q.store(conn, digest, self.job_id, write) and apply_to_rows(conn, digest) >= 0
        )
        if not stored:
            log.warning(
                "scan of %s by job %s was taken over by another job; its result was dropped", digest, self.job_id
            )

    def _record_failure(self, digest: str, failure: ScanFailure) -> None:
        def work(conn: Any) -> None:
            if results_q.fail(conn, digest, self.job_id, code=failure.code, message=failure.message):
                apply_to_rows(conn, digest)

        self.db.run_write(work)

    def _scan_image(self, origin: ImageOrigin, digest: str) -> ScanWrite:
        store = engine.open_advisories(self.vulndb_path)
        try:
            with origin.image_source(digest) as source:
                images = source.resolve(None)
                if not images:
                    raise ScanFailure("failed_to_query_basic_image_information", f"{digest} holds no image")

                def progress(_what: str, _done: int, _total: int) -> None:
                    self.stop_check()

                return engine.scan_image(source, images[0], options=self.options, store=store, progress=progress)
        finally:
            if store is not None:
                store.close()

    def _scan_index(self, origin: ImageOrigin, digest: str, index: ImageIndex, not_before: int) -> None:
        platforms = select_platforms(index, None)
        if not platforms:
            raise ScanFailure("failed_to_query_basic_image_information", f"index {digest} lists no runnable image")
        parts = []
        for descriptor in platforms:
            result = DigestScanner(self.db, self.job_id, self.options, self.vulndb_path, self.stop_check).scan(
                origin, str(descriptor.digest), not_before=not_before
            )
            parts.append((descriptor, result))
        failed = [r for _d, r in parts if r.status is not ScanResultStatus.SUCCESS]
        if failed:
            self._record_failure(
                digest,
                ScanFailure(
                    failed[0].failed_code or "unknown_error",
                    f"platform image {failed[0].manifest_digest}: {failed[0].failed_message}",
                ),
            )
            return
        summary = engine.merge_summaries([r.summary for _d, r in parts])
        report = {
            "schema": INDEX_REPORT_SCHEMA,
            "manifest_digest": digest,
            "platforms": [
                {
                    "digest": str(d.digest),
                    "platform": str(d.platform) if d.platform else "",
                    "result_version": r.version,
                }
                for d, r in parts
            ],
        }
        databases = {r.advisory_db for _d, r in parts}
        partial = next((r for _d, r in parts if r.failed_code), None)  # e.g. vulnerabilities skipped: no database
        write = ScanWrite(
            summary=summary,
            severity_level=summary.level().value,
            report=report,
            vulnerabilities=(),
            findings=(),
            scanners=",".join(self.options.scanners),
            advisory_db=databases.pop() if len(databases) == 1 else engine.NO_DATABASE,
            scanner_version=moorage.__version__,
            failed_code=partial.failed_code if partial else "",
            failed_message=partial.failed_message if partial else "",
        )
        self.db.run_write(
            lambda conn: results_q.store(conn, digest, self.job_id, write) and apply_to_rows(conn, digest) >= 0
        )


def _is_stop(error: BaseException) -> bool:
    """Whether an exception is the job runner's stop signal (raised by ``stop_check`` inside a scan)."""
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, JobStopped):
            return True
        current = current.__cause__
    return False
