"""A pushed digest a pipeline of the same account already scanned is not scanned again.

When ``moorage scan --report-to`` uploaded a result for a manifest digest and the account then
pushes that digest with a tag, the scan-on-push listener asks here first. The upload's result is
reused when it was matched against the advisory database the registry has now (same build): the
tag's image row takes the upload's scan state, no scan job is queued, and the detail operations
read the upload's findings for that row (``security_details.resolve``). A newer advisory database
(the upload was matched against an older one) means a scan, as for any stale result.

The reuse stays inside the account that uploaded: the upload is the account's pipeline's word, not
a registry scan, so it is never stored as the digest's result; another account pushing the same
digest gets a registry scan, and a registry scan of the digest (by any account, or a manual scan
of this row) replaces the reused state with its own.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread
from sqlalchemy.engine import Connection

from moorage.domain.security import ScanResultStatus
from moorage.metadata.database import Database
from moorage.metadata.queries import security_cicd as cicd_q
from moorage.metadata.queries import security_images as images_q
from moorage.metadata.queries import security_results as results_q
from moorage.services.security import engine
from moorage.services.security.image_scans import record_tag
from moorage.services.security.results import row_values


def current_database(vulndb_path: Path) -> str:
    """The id (build time) of the registry's advisory database now."""
    store = engine.open_advisories(vulndb_path)
    try:
        return engine.database_id(store)
    finally:
        if store is not None:
            store.close()


async def reuse_upload(
    db: Database, vulndb_path: Path, *, domain_id: str, repository_id: int, tag: str, digest: str
) -> bool:
    """Give a pushed tag its account's uploaded result instead of a scan; whether it did."""
    upload = await db.read(lambda conn: cicd_q.latest_for_digest(conn, domain_id, digest))
    if upload is None or upload.scan_status != "success" or not upload.advisory_db:
        return False
    if upload.advisory_db == engine.NO_DATABASE:
        return False  # matched against nothing: a registry scan (with a database later) must run
    if upload.advisory_db != await anyio.to_thread.run_sync(lambda: current_database(vulndb_path)):
        return False

    def apply(conn: Connection) -> bool:
        registry_result = results_q.get(conn, digest)
        if registry_result is not None and registry_result.status is not ScanResultStatus.NEW:
            return False  # the registry has its own result (or a scan under way): the usual path
        result = results_q.get(conn, upload.result_key)
        row = record_tag(conn, repository_id, tag, digest)
        if result is None or row is None:
            return False
        ignored = results_q.ignored_vulnerabilities(
            conn, domain_id, upload.result_key, image_type=row.image_type, row_id=row.id
        )
        images_q.apply_scan_state(conn, [row.id], row_values(result, ignored))
        return True

    return await db.write(apply)
