"""The image-security services on a real database, without a server: the database layer cache
against the directory cache, scanning a digest (claims, reuse, idempotence, limits, failure codes,
stops), re-matching without reading layers, the periodic pass, and the pull gate's cache."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huey import SqliteHuey
from sqlalchemy import func, select, update

from moorage.clients.registry import AuthenticationError, NotFoundError, RegistryError
from moorage.domain.jobs import JobStatus, JobStopped
from moorage.domain.manifests import ParsedManifest, parse_manifest
from moorage.domain.security import ScanPolicy
from moorage.jobs.queue import JobQueue
from moorage.metadata.database import Database, now_ms
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import identity as identity_q
from moorage.metadata.queries import jobs as jobs_q
from moorage.metadata.queries import namespaces as namespaces_q
from moorage.metadata.queries import security_results as results_q
from moorage.metadata.queries import security_tasks as tasks_q
from moorage.metadata.tables import jobs, security_vulnerabilities
from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.cache import DirectoryLayerCache
from moorage.scanner.errors import LimitExceeded
from moorage.scanner.layers import scan_tar_layer
from moorage.scanner.limits import LimitCode, ScanLimits
from moorage.scanner.sources.interface import ImageSource
from moorage.scanner.sources.layout import OciLayoutSource
from moorage.services.security import engine
from moorage.services.security.failures import ScanFailure, failure_from
from moorage.services.security.layer_cache import DatabaseLayerCache
from moorage.services.security.pull_gate import PullGate
from moorage.services.security.rematch import rematch_all
from moorage.services.security.scan_options import engine_options, scan_limits_of
from moorage.services.security.scanning import DigestScanner
from moorage.services.security.schedule import DAY_MS, policy_due, queue_due_scans, queue_rematch_if_needed
from moorage.services.security.sources import ImageOrigin
from moorage.services.security.tasks import TaskService
from moorage.settings import Settings
from tests.conftest import DATABASES
from tests.hss import seed
from tests.hss.support import ADVISORIES, CVSS_HIGH, build_advisories, dist_info, python_image
from tests.scanner.advisories.feedwriters import osv_record
from tests.support import swr_images as si


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    upgrade(database)
    yield database
    database.dispose()


class LayoutOrigin(ImageOrigin):
    """Images of an OCI layout (tags name them); counts what it opens."""

    def __init__(self, layout: Path, images: dict[str, si.Image], failure: Exception | None = None) -> None:
        self.layout = layout
        self.by_digest = {image.digest: (tag, image) for tag, image in images.items()}
        self.opened = 0
        self.failure = failure

    def document(self, digest: str) -> ParsedManifest:
        if self.failure is not None:
            raise self.failure
        return parse_manifest(self.by_digest[digest][1].manifest, None)

    def image_source(self, digest: str) -> ImageSource:
        self.opened += 1
        return OciLayoutSource(self.layout, self.by_digest[digest][0])


def running_job(db: Database, job_id: str, *, lease_ms: int = 60_000) -> str:
    """A job row that is running with a live lease (the holder of scan claims)."""
    db.run_write(
        lambda conn: jobs_q.create(
            conn, job_id=job_id, kind="test", params={}, max_attempts=3, dedupe_key=None, domain_id=None
        )
    )
    db.run_write(
        lambda conn: conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(status=JobStatus.RUNNING, lease_until=now_ms() + lease_ms, worker="test")
        )
    )
    return job_id


def finding_rows(db: Database, digest: str) -> int:
    return int(
        db.run_read(
            lambda conn: conn.execute(
                select(func.count())
                .select_from(security_vulnerabilities)
                .where(security_vulnerabilities.c.manifest_digest == digest)
            ).scalar_one()
        )
    )


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, dict[str, si.Image], Path]:
    images = {
        "vuln": python_image({"requests": "2.30.0", "urllib3": "1.0"}, label="svc"),
        "big": python_image({}, label="big"),
    }
    layout = si.write_layout(tmp_path / "layout", images)
    return layout, images, build_advisories(tmp_path / "adv")


def scanner(db: Database, job_id: str, vulndb: Path, **options: Any) -> DigestScanner:
    return DigestScanner(db, running_job(db, job_id), engine.EngineOptions(executor="serial", **options), vulndb)


def test_database_layer_cache_agrees_with_the_directory_cache(db: Database, tmp_path: Path) -> None:
    blob = si.layer({**dist_info("requests", "2.30.0"), "etc/os-release": b"ID=test\n"})
    path = tmp_path / "layer.tar.gz"
    path.write_bytes(blob.data)
    analyzers = default_analyzers()

    def opener() -> Any:
        return path.open("rb")

    scanned = scan_tar_layer(opener, digest=blob.digest, plugins=analyzers)
    directory, database = DirectoryLayerCache(tmp_path / "cache"), DatabaseLayerCache(db)
    assert database.load(blob.digest, analyzers) == (None, list(analyzers))
    for cache in (directory, database):
        cache.store(scanned, analyzers[:3])
    from_directory, missing_d = directory.load(blob.digest, analyzers)
    from_database, missing_db = database.load(blob.digest, analyzers)
    assert missing_d == missing_db == list(analyzers[3:])
    assert from_database == from_directory
    database.store(scanned, analyzers)  # again, with every plug-in: the first rows stay, the rest are added
    complete, missing = database.load(blob.digest, analyzers)
    assert missing == [] and complete is not None and complete.entries == scanned.entries
    assert complete.results == scanned.results
    database.store(scan_tar_layer(opener, digest="dir:synthetic", plugins=analyzers, verify_digest=False), analyzers)
    assert database.load("dir:synthetic", analyzers)[0] is None


def test_scanning_a_digest_twice_keeps_one_set_of_findings(db: Database, world: Any) -> None:
    layout, images, vulndb = world
    origin = LayoutOrigin(layout, images)
    digest = images["vuln"].digest
    first = scanner(db, "job-one", vulndb).scan(origin, digest, not_before=0)
    assert first.status == "success" and first.summary.vul_count() == 2
    assert finding_rows(db, digest) == 2
    reused = scanner(db, "job-two", vulndb).scan(origin, digest, not_before=0)
    assert reused.version == first.version and origin.opened == 1  # fresh enough: not scanned again
    again = scanner(db, "job-three", vulndb).scan(origin, digest, not_before=now_ms() + 1)
    assert again.version == first.version + 1 and origin.opened == 2
    assert finding_rows(db, digest) == 2  # replaced, never added to


def test_a_live_holder_is_waited_for_and_its_result_reused(db: Database, world: Any) -> None:
    layout, images, vulndb = world
    origin = LayoutOrigin(layout, images)
    digest = images["vuln"].digest
    holder = running_job(db, "job-holder")
    assert db.run_write(lambda conn: results_q.claim(conn, digest, holder))
    waiting = scanner(db, "job-waiting", vulndb)
    found: list[Any] = []
    thread = threading.Thread(target=lambda: found.append(waiting.scan(origin, digest, not_before=0)))
    thread.start()
    time.sleep(1.2)
    assert thread.is_alive() and origin.opened == 0  # the claim is held by a live job
    assert not db.run_write(lambda conn: results_q.claim(conn, digest, "job-waiting"))
    DigestScanner(db, holder, engine.EngineOptions(executor="serial"), vulndb)._scan_claimed(origin, digest, 0)
    thread.join(30)
    assert found and found[0].status == "success" and origin.opened == 1  # the holder's scan, reused


class _HolderFinishesFirst:
    """The waiter's database, on which the holder finishes its scan just before the waiter's first
    write: the moment between reading a result and claiming its row."""

    def __init__(self, db: Database, finish: Any) -> None:
        self._db, self._finish = db, finish

    def run_read(self, work: Any) -> Any:
        return self._db.run_read(work)

    def run_write(self, work: Any) -> Any:
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()
        return self._db.run_write(work)


def test_a_result_stored_between_reading_and_claiming_is_reused_not_scanned_again(db: Database, world: Any) -> None:
    layout, images, vulndb = world
    origin = LayoutOrigin(layout, images)
    digest = images["vuln"].digest
    holder = running_job(db, "job-holder-race")
    assert db.run_write(lambda conn: results_q.claim(conn, digest, holder))
    holding = DigestScanner(db, holder, engine.EngineOptions(executor="serial"), vulndb)
    waiting = DigestScanner(
        _HolderFinishesFirst(db, lambda: holding._scan_claimed(origin, digest, 0)),  # type: ignore[arg-type]
        running_job(db, "job-waiting-race"),
        engine.EngineOptions(executor="serial"),
        vulndb,
    )
    found = waiting.scan(origin, digest, not_before=0)
    assert found.status == "success"
    assert origin.opened == 1  # the holder's scan only: the waiter reused it


def test_a_dead_holder_loses_its_claim(db: Database, world: Any) -> None:
    layout, images, vulndb = world
    digest = images["vuln"].digest
    dead = running_job(db, "job-dead", lease_ms=-1000)
    assert db.run_write(lambda conn: results_q.claim(conn, digest, dead))
    result = scanner(db, "job-alive", vulndb).scan(LayoutOrigin(layout, images), digest, not_before=0)
    assert result.status == "success"


@pytest.mark.parametrize(
    ("options", "code"), [({"max_layers": 1}, "image_layer_over_sized"), ({"max_image_bytes": 10}, "image_over_sized")]
)
def test_image_limits_become_failure_codes(db: Database, world: Any, options: dict[str, int], code: str) -> None:
    layout, images, vulndb = world
    origin = LayoutOrigin(layout, images)
    result = scanner(db, f"job-{code}"[:32], vulndb, **options).scan(origin, images["big"].digest, not_before=0)
    assert (result.status, result.failed_code) == ("failed", code)
    assert finding_rows(db, images["big"].digest) == 0


@pytest.mark.parametrize(
    ("limit", "scanner_code"),
    [
        ("max_layer_uncompressed_bytes", "layer_too_large"),
        ("max_image_uncompressed_bytes", "image_too_large"),
        ("max_image_members", "image_too_many_members"),
    ],
)
def test_an_image_past_the_scanner_limits_fails_as_image_over_sized(
    db: Database, world: Any, tmp_path: Path, limit: str, scanner_code: str
) -> None:
    """A decompression bomb (here: an image past a small limit) gets the documented HSS code, and the
    scanner's own code and message in the failure message; the scanner settings reach the scan."""
    layout, images, vulndb = world
    settings = Settings(data_dir=tmp_path / "data", scanner={limit: 1, "analysis_executor": "serial"})
    options = engine_options(settings, db)
    assert options.limits == scan_limits_of(settings) and options.limits != ScanLimits()
    result = DigestScanner(db, running_job(db, f"job-{limit}"[:32]), options, vulndb).scan(
        LayoutOrigin(layout, images), images["big"].digest, not_before=0
    )
    assert (result.status, result.failed_code) == ("failed", "image_over_sized")
    assert result.failed_message.startswith(f"{scanner_code}: ")
    assert (
        failure_from(LimitExceeded(LimitCode.LAYER_TOO_LARGE, "bomb", setting="max_layer_bytes", limit=1)).code
        == "image_over_sized"
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AuthenticationError("401", status=401), "authentication_failed"),
        (NotFoundError("404", status=404), "get_detail_info_not_found"),
        (RegistryError("connection reset"), "download_failed"),
        (ScanFailure("schema_v1_not_support"), "schema_v1_not_support"),
        (ValueError("Docker schema 1 manifests are not supported"), "schema_v1_not_support"),
        (TimeoutError("slow"), "response_timed_out"),
        (RuntimeError("surprise"), "unknown_error"),
    ],
)
def test_errors_met_by_a_scan_become_documented_codes(db: Database, world: Any, error: Exception, code: str) -> None:
    layout, images, vulndb = world
    assert failure_from(error).code == code
    result = scanner(db, f"job-{code}"[:32], vulndb).scan(
        LayoutOrigin(layout, images, failure=error), images["vuln"].digest, not_before=0
    )
    assert (result.status, result.failed_code) == ("failed", code)


def test_a_stopped_scan_gives_its_claim_back(db: Database, world: Any) -> None:
    layout, images, vulndb = world
    digest = images["vuln"].digest

    def stop() -> None:
        raise JobStopped("job-stopped")

    stopping = DigestScanner(
        db, running_job(db, "job-stopped"), engine.EngineOptions(executor="serial"), vulndb, stop_check=stop
    )
    checks = []

    def stop_inside_the_scan() -> None:
        checks.append(1)
        if len(checks) > 1:  # the first check comes before the claim; the next ones from the layer pass
            stop()

    stopping.stop_check = stop_inside_the_scan
    with pytest.raises(JobStopped):
        stopping.scan(LayoutOrigin(layout, images), digest, not_before=0)
    assert db.run_read(lambda conn: results_q.holder(conn, digest)) == ("new", "")


def test_rematch_reads_no_layer(db: Database, world: Any, tmp_path: Path) -> None:
    layout, images, vulndb = world
    digest = images["vuln"].digest
    first = scanner(db, "job-first", vulndb).scan(LayoutOrigin(layout, images), digest, not_before=0)
    assert {v for v, _s, _a in first.summary.vulnerabilities} == {"CVE-2031-0001", "CVE-2031-0002"}
    shutil.rmtree(layout)  # nothing left to read
    newer = [
        *ADVISORIES[:1],
        osv_record(
            "GHSA-hss1-0009-0009",
            package="urllib3",
            aliases=["CVE-2031-0009"],
            events=[{"introduced": "0"}, {"fixed": "9.0"}],
            severity=[{"type": "CVSS_V3", "score": CVSS_HIGH}],
        ),
    ]
    time.sleep(1.1)  # build times have a one-second resolution
    build_advisories(tmp_path / "adv2", newer)
    shutil.copy(tmp_path / "adv2" / "vulndb.sqlite", vulndb)
    assert rematch_all(db, vulndb) == 1
    after = db.run_read(lambda conn: results_q.get(conn, digest))
    assert after is not None and after.version == first.version + 1
    assert {v for v, _s, _a in after.summary.vulnerabilities} == {"CVE-2031-0001", "CVE-2031-0009"}
    assert finding_rows(db, digest) == 2
    assert rematch_all(db, vulndb) == 0  # everything matched against this database already


def test_periodic_pass_queues_rematches_and_due_scans_once(db: Database, world: Any, tmp_path: Path) -> None:
    layout, images, vulndb = world
    scanner(db, "job-periodic", vulndb).scan(LayoutOrigin(layout, images), images["vuln"].digest, not_before=0)
    assert queue_rematch_if_needed(db, vulndb) is None  # results match the installed database
    db.run_write(lambda conn: conn.execute(update(results_q.t).values(advisory_db="older")))
    job = queue_rematch_if_needed(db, vulndb)
    assert job is not None and queue_rematch_if_needed(db, vulndb) is None  # one job per database
    domain = db.run_write(lambda conn: identity_q.create_domain(conn, "d" * 32, "periodic"))
    policy = ScanPolicy(domain.id, True, 3, 0x7FFFFFFF, 0, 0, (), now_ms() - 4 * DAY_MS)
    assert policy_due(policy, now_ms()) and not policy_due(policy, policy.last_run_at + DAY_MS)
    db.run_write(lambda conn: tasks_q.set_scan_policy(conn, policy))
    images = seed.generate()[:4]
    seed.write(db, domain.id, images)
    tasks = TaskService(db, JobQueue(db, SqliteHuey("t", filename=str(tmp_path / "queue.db"))))
    now = now_ms()
    queued = queue_due_scans(db, tasks, now=now)
    assert len(queued) == 1 and queue_due_scans(db, tasks, now=now) == []  # claimed once
    task = db.run_read(
        lambda conn: tasks_q.page(conn, domain.id, tasks_q.TaskQuery(task_type="cycle"), offset=0, limit=5)
    )[0][0]
    assert (task.total, task.is_all, task.status, task.job_id) == (4, True, "waiting", queued[0])
    assert not policy_due(db.run_read(lambda conn: tasks_q.scan_policy(conn, domain.id)), now + DAY_MS)


@pytest.mark.asyncio
async def test_pull_gate_reads_through_a_short_cache(db: Database) -> None:
    now = [1000.0]
    gate = PullGate(db, cache_seconds=1.0, clock=lambda: now[0])
    domain = db.run_write(lambda conn: identity_q.create_domain(conn, "e" * 32, "gate"))
    from moorage.metadata.queries import repositories as repositories_q

    db.run_write(lambda conn: repositories_q.ensure_instance(conn, "default", "default"))
    namespace = db.run_write(
        lambda conn: namespaces_q.create(
            conn, instance_id="default", name="gated", domain_id=domain.id, creator_name="t"
        )
    )
    assert namespace is not None
    await gate.check(instance_id="default", namespace="gated", digest="sha256:" + "1" * 64)
    await gate.check(instance_id="default", namespace="gated", digest="sha256:" + "1" * 64)
    assert gate.reads == 1  # no policy: remembered for a second
    db.run_write(
        lambda conn: tasks_q.set_namespace_policy(
            conn,
            namespace_id=namespace.id,
            scan_on_push=None,
            block_severity="high",
            block_unscanned=True,
            allowlist=[],
        )
    )
    await gate.check(instance_id="default", namespace="gated", digest="sha256:" + "1" * 64)  # still cached
    now[0] += 1.5
    from moorage.domain.errors import Denied

    with pytest.raises(Denied):
        await gate.check(instance_id="default", namespace="gated", digest="sha256:" + "1" * 64)
    assert gate.reads == 3
    with pytest.raises(Denied):
        await gate.check(instance_id="default", namespace="gated", digest="sha256:" + "1" * 64)
    assert gate.reads == 3  # policy, result state and verdict all cached
