"""A worker killed with SIGKILL in the middle of a scan: its job's lease lapses, another worker runs
the job again and completes the scan once, with no finding stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkhss.v5 import (
    AddRegistryRequest,
    AddRegistryRequestBody,
    CreateImageSynchronizeTaskRequest,
    CreateImageSynchronizeTaskRequestInfo,
    CreateManualImageScanTaskReqInfo,
    CreateManualImageScanTaskReqInfoImageInfo,
    CreateManualImageScanTaskRequest,
    ListImageScanTaskRequest,
    ListRegistryImagesRequest,
)
from sqlalchemy import func, select

from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.tables import security_tasks, security_vulnerabilities
from tests.conftest import MoorageFactory
from tests.hss.conftest import new_account
from tests.hss.fake_registries import SlowOciRegistry
from tests.hss.support import build_advisories, dist_info, hss_client, opened, wait_for
from tests.support import swr_images as si
from tests.support.servers import ServerProcess


class Worker:
    """A ``moorage worker`` process of the server's data directory and database, in its own group."""

    def __init__(self, server: ServerProcess, log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moorage", "worker"],
                env={**os.environ, **server.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the worker's whole group (the scan dies with it)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers (after the test: nothing it does then matters)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def test_scan_survives_a_killed_worker(tmp_path: Path, moorage_factory: MoorageFactory, workers: list[Worker]) -> None:
    vulndb = build_advisories(tmp_path / "advisories")
    server = moorage_factory(
        env={
            "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb),
            "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
            "MOORAGE_JOBS__LEASE_SECONDS": "5",
            "MOORAGE_JOBS__RECOVER_INTERVAL_SECONDS": "1",
            "MOORAGE_JOBS__STALE_PENDING_SECONDS": "5",
            "MOORAGE_SCANNER__LAYER_CACHE": "none",
            "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",
        }
    )  # the fake registry is on loopback: allowed explicitly
    account = new_account(server, "hss-killed")
    client = hss_client(server, account.keys)
    payload = os.urandom(384 << 10)  # incompressible: ~6 s to download at the fake's pace
    image = si.image(
        [{"opt/blob.bin": payload}, {**dist_info("requests", "2.30.0"), **dist_info("urllib3", "1.0")}], label="killed"
    )
    with SlowOciRegistry("", "", tags={"1": image}) as registry:
        client.add_registry(
            AddRegistryRequest(
                body=AddRegistryRequestBody(
                    registry_name="slow", registry_type="Other", protocol="http", registry_addr=registry.address
                )
            )
        )
        workers.append(Worker(server, tmp_path / "worker-a.log"))
        client.create_image_synchronize_task(
            CreateImageSynchronizeTaskRequest(body=CreateImageSynchronizeTaskRequestInfo(sync_all_registries=True))
        )
        row = wait_for(
            lambda: next(
                iter(client.list_registry_images(ListRegistryImagesRequest(registry_name="slow")).data_list), None
            ),
            what="the synchronisation",
        )
        client.create_manual_image_scan_task(
            CreateManualImageScanTaskRequest(
                body=CreateManualImageScanTaskReqInfo(
                    is_all=False, image_info=[CreateManualImageScanTaskReqInfoImageInfo(id=row.id)]
                )
            )
        )
        assert registry.blob_started.wait(90), (tmp_path / "worker-a.log").read_text()[-2000:]
        workers[0].kill()
        workers.append(Worker(server, tmp_path / "worker-b.log"))

        def finished() -> Any:
            tasks = client.list_image_scan_task(ListImageScanTaskRequest(type="image_scan")).data_list
            return tasks[0] if tasks and tasks[0].task_status in (100, -1, -3) else None

        task = wait_for(finished, timeout=120, what="the task to finish on the second worker")
    assert (task.task_status, task.success_num, task.failed_num) == (100, 1, 0)
    scanned = client.list_registry_images(ListRegistryImagesRequest(registry_name="slow")).data_list[0]
    assert (scanned.scan_status, scanned.vul_num) == ("success", 2)
    with opened(server) as db:
        job_id = db.run_read(
            lambda conn: conn.execute(
                select(security_tasks.c.job_id).where(security_tasks.c.type == "image_scan")
            ).scalar_one()
        )
        job = db.run_read(lambda conn: jobs_q.get(conn, job_id))
        stored = db.run_read(
            lambda conn: conn.execute(
                select(func.count())
                .select_from(security_vulnerabilities)
                .where(security_vulnerabilities.c.manifest_digest == image.digest)
            ).scalar_one()
        )
    assert job is not None and job.status == "succeeded" and job.attempts == 2
    assert stored == 2  # one row per finding: the killed attempt left none behind, the retry added none twice
    assert "executed" in (tmp_path / "worker-b.log").read_text()
