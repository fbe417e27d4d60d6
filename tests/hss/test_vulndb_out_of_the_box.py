"""Vulnerabilities out of the box: a fresh server fetches its advisory database from the configured
sources in the background (here a feed server on loopback, so the download path runs for real),
says "skipped: no advisory database" for scans made before it arrives, re-matches those images when
it arrives, shows the database's age in ``/healthz``, and ``moorage vulndb update`` without
``--db`` updates the server's file. With the database shared through storage, a worker of another
"node" (an advisory-database path of its own) fetches each build, the update by hand too. A source
that cannot be reached is recorded, shown and retried with a growing wait, by one worker at a time
even when several run."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkhss.v5 import ListRegistryImagesRequest

from moorage.domain.jobs import JobKind, JobStatus
from moorage.domain.security import VULNERABILITIES_SKIPPED, VULNERABILITIES_SKIPPED_DESCRIPTION
from moorage.metadata.queries import jobs as jobs_q
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MoorageFactory
from tests.hss.support import ADVISORIES, hss_client, opened, python_image, skopeo_env, skopeo_push, wait_for
from tests.hss.test_worker_kill import Worker
from tests.scanner.advisories.feedwriters import alpine_secdb_json, osv_zip
from tests.support import swr_images as si
from tests.support.accounts import Account, create_access_key, project_id
from tests.support.feed_server import feed_server
from tests.support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("skopeo")]
ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
OSV_PATH, SECDB_PATH = "/osv/PyPI/all.zip", "/secdb/v3.19/main.json"


def _health(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(server.base_url + "/healthz", timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    database: dict[str, Any] = body["vulnerability_database"]
    return database


def test_a_fresh_server_fetches_its_database_and_rematches(tmp_path: Path, moorage_factory: MoorageFactory) -> None:
    files = {
        OSV_PATH: osv_zip(ADVISORIES),
        SECDB_PATH: alpine_secdb_json("v3.19", {"curl": {"8.5.0-r0": ["CVE-2023-46218"]}}),
    }
    with feed_server(files, open_gate=False) as feeds:
        sources = json.dumps([f"osv:{feeds.url(OSV_PATH)}", f"alpine:{feeds.url(SECDB_PATH)}"])
        env = {
            "MOORAGE_SCANNER__VULNDB_SOURCES": sources,
            "MOORAGE_SCANNER__SCAN_ON_PUSH": "true",
            "MOORAGE_SCANNER__PERIODIC_INTERVAL_SECONDS": "1",
            "MOORAGE_SCANNER__VULNDB_RETRY_SECONDS": "1",
            "MOORAGE_SCANNER__VULNDB_SHARE": "storage",
        }
        server = moorage_factory(env=env)  # answers at once: the download runs in the worker, held by the gate
        wait_for(lambda: feeds.count(OSV_PATH), timeout=60, what="the worker to start fetching")
        health = _health(server)
        assert (health["status"], health["built_at"], health["age_seconds"]) == ("updating", None, None)
        assert health["automatic_update"]["enabled"] is True and health["automatic_update"]["in_progress"] is True

        # A scan before the database arrives: the vulnerability part is skipped, and says so.
        keys = (*create_access_key(server, ADMIN), project_id(server))
        client = hss_client(server, keys)
        image = python_image({"requests": "2.30.0", "urllib3": "1.26.0", "flask": "3.0.0"}, label="early")
        layout = si.write_layout(tmp_path / "layout", {"v1": image})
        skopeo_push(
            layout, "v1", f"{server.address}/early/app:v1", creds=(ADMIN_USER, ADMIN_PASSWORD), env=skopeo_env(tmp_path)
        )

        def row() -> Any:
            answer = client.list_registry_images(ListRegistryImagesRequest(namespace="early"))
            return answer.data_list[0] if answer.data_list else None

        scanned = wait_for(
            lambda: (r := row()) and r.scan_status in ("success", "failed") and r, what="the pushed image to be scanned"
        )
        assert scanned.scan_status == "success", (scanned.scan_failed_code, server.log()[-3000:])
        assert (scanned.vul_num, scanned.scan_failed_code) == (0, VULNERABILITIES_SKIPPED)
        assert scanned.scan_failed_desc == VULNERABILITIES_SKIPPED_DESCRIPTION
        assert _health(server)["status"] == "updating"

        # The database arrives: the same image shows its findings without a new push.
        feeds.gate.set()
        rematched = wait_for(lambda: (r := row()) and r.vul_num and r, what="the image to be re-matched")
        assert (rematched.vul_num, rematched.scan_failed_code, rematched.scan_failed_desc) == (2, "", "")
        assert rematched.severity_level == "High" and rematched.image_digest == image.digest
        assert feeds.count(OSV_PATH) == 1, "one fetch, by one worker"

        health = wait_for(lambda: (h := _health(server))["status"] == "ready" and h, what="healthz to say ready")
        assert 0 <= health["age_seconds"] < 300 and health["records"] == 4
        assert health["ecosystems"] == {"alpine:3.19": 1, "pypi": 3}
        assert [(s["kind"], s["records"], s["error"]) for s in health["sources"]] == [("osv", 3, ""), ("alpine", 1, "")]
        assert health["automatic_update"]["last_success_at"] and health["automatic_update"]["consecutive_failures"] == 0
        own = server.data_dir / "vulndb.sqlite"
        elsewhere = tmp_path / "node-b" / "vulndb.sqlite"
        node_b = Worker(server, tmp_path / "node-b.log", env={"MOORAGE_SCANNER__VULNDB_PATH": str(elsewhere)})
        try:

            def same() -> bool:
                return elsewhere.is_file() and elsewhere.read_bytes() == own.read_bytes()

            wait_for(same, what="node b to fetch the published build")

            # `moorage vulndb update` without --db: the server's own file (same settings as serve).
            time.sleep(1.1)  # build times have one-second resolution
            done = subprocess.run(
                [sys.executable, "-m", "moorage", "vulndb", "update", "--json"],
                env={**os.environ, **server.env},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            updated = json.loads(done.stdout)
            assert updated["path"] == str((server.data_dir / "vulndb.sqlite").resolve())
            assert updated["built_at"] > health["built_at"]
            assert f"[1/2] osv {feeds.url(OSV_PATH)}: 3 records" in done.stderr
            assert f"[2/2] alpine {feeds.url(SECDB_PATH)}: 1 records" in done.stderr
            assert _health(server)["built_at"] == updated["built_at"], "healthz reads the file again once it changed"
            # The newer file installed by hand is published by the periodic pass and reaches node b too.
            wait_for(same, what="node b to fetch the build installed by hand")
        finally:
            node_b.stop()
    assert "Traceback" not in server.log() + (tmp_path / "node-b.log").read_text()


def test_an_unreachable_source_is_retried_with_backoff_by_one_worker(
    tmp_path: Path, moorage_factory: MoorageFactory
) -> None:
    with feed_server({}) as feeds:
        feeds.statuses[OSV_PATH] = 503
        env = {
            "MOORAGE_SCANNER__VULNDB_SOURCES": f"osv:{feeds.url(OSV_PATH)}",
            "MOORAGE_SCANNER__PERIODIC_INTERVAL_SECONDS": "1",
            "MOORAGE_SCANNER__VULNDB_RETRY_SECONDS": "1",
            "MOORAGE_SCANNER__VULNDB_RETRY_MAX_SECONDS": "2",
        }
        server = moorage_factory(env=env)
        worker = Worker(server, tmp_path / "second-worker.log")  # two workers compete for every pass
        try:
            health = wait_for(
                lambda: (h := _health(server))["automatic_update"]["consecutive_failures"] >= 3 and h,
                timeout=90,
                what="three failed tries",
            )
            fetched_before = feeds.count(OSV_PATH)
            with opened(server) as db:
                runs = db.run_read(lambda conn: jobs_q.list_jobs(conn, kind=JobKind.VULNDB_UPDATE, limit=1000))
            fetched_after = feeds.count(OSV_PATH)
        finally:
            worker.stop()
    assert health["status"] in ("missing", "updating") and health["built_at"] is None
    update = health["automatic_update"]
    assert "HTTP 503" in update["last_error"] and update["next_attempt_at"] is not None
    finished = sorted((r for r in runs if r.status.finished), key=lambda r: r.created_at)
    assert len(finished) >= 3 and all(r.status is JobStatus.FAILED for r in finished)
    for earlier, later in itertools.pairwise(finished):
        assert earlier.finished_at is not None and later.started_at is not None
        assert later.started_at >= earlier.finished_at, "never two updates at once"
        assert later.started_at - earlier.finished_at >= 900, "a wait of at least VULNDB_RETRY_SECONDS between tries"
    assert fetched_before <= len(runs) and len(finished) <= fetched_after, "each run fetched once"
    lines = (server.log() + (tmp_path / "second-worker.log").read_text()).splitlines()
    for run in finished:
        assert sum(run.id in line and "failed" in line for line in lines) == 1, "one log line per failed try"
    assert not any("Traceback" in line for line in lines)
    assert server.process.poll() is None, "the server keeps running"
