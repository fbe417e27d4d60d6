"""Scan on push reads an organization's policy through a short per-process cache (every tagged push
asks it): one read per organization per ``cache_seconds``, a change through the organization-policy
API applies at once in the process that made it, and a change made by another node (a process with
its own engine on the same database) applies within ``cache_seconds``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moorage.domain.identity import Principal
from moorage.domain.jobs import JobKind
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.metadata.queries import identity as identity_q
from moorage.metadata.queries import namespaces as namespaces_q
from moorage.metadata.queries import repositories as repositories_q
from moorage.metadata.queries import security_tasks as tasks_q
from moorage.services.manifests import ManifestStored
from moorage.services.security.policies import PolicyService
from moorage.services.security.push_listener import ScanOnPush
from tests.conftest import DATABASES


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Jobs:
    """Records what scan on push submits (the queue itself is not under test here)."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []

    async def submit(self, kind: JobKind, params: dict[str, Any], **_: object) -> None:
        assert kind is JobKind.SCAN_ON_PUSH
        self.submitted.append(params)


@pytest.fixture(params=DATABASES)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield str(url)


@pytest.fixture
def nodes(url: str) -> Iterator[tuple[Database, Database]]:
    """Two engines on one database, as two nodes (or two processes of one node) have."""
    first, second = Database(url, pool_size=2), Database(url, pool_size=2)
    yield first, second
    first.dispose()
    second.dispose()


def _organization(db: Database, name: str) -> tuple[int, Principal]:
    domain = db.run_write(lambda conn: identity_q.create_domain(conn, "d" * 32, "cache"))
    db.run_write(lambda conn: repositories_q.ensure_instance(conn, DEFAULT_INSTANCE, DEFAULT_INSTANCE))
    record = db.run_write(
        lambda conn: namespaces_q.create(
            conn, instance_id=DEFAULT_INSTANCE, name=name, domain_id=domain.id, creator_name="t"
        )
    )
    assert record is not None
    return record.id, Principal(user_id="u", user_name="admin", domain_id=domain.id, is_admin=True)


def _pushed(namespace_id: int, tag: str) -> ManifestStored:
    return ManifestStored(
        instance_id=DEFAULT_INSTANCE,
        repository_id=1,
        namespace_id=namespace_id,
        repository="scanned/app",
        domain_id=None,
        digest="sha256:" + "a" * 64,
        media_type="application/vnd.oci.image.manifest.v1+json",
        tag=tag,
    )


def _set_scan_on_push(db: Database, namespace_id: int, scan: bool) -> None:
    """The policy written the way another node (or ``moorage`` on another host) writes it."""
    db.run_write(
        lambda conn: tasks_q.set_namespace_policy(
            conn, namespace_id=namespace_id, scan_on_push=scan, block_severity="", block_unscanned=False, allowlist=[]
        )
    )


@pytest.mark.asyncio
async def test_tagged_pushes_read_the_policy_once_per_cache_period(nodes: tuple[Database, Database]) -> None:
    db, _ = nodes
    namespace_id, _principal = _organization(db, "scanned")
    _set_scan_on_push(db, namespace_id, True)
    clock, jobs = Clock(), Jobs()
    policies = PolicyService(db, scan_on_push_default=False, cache_seconds=1.0, clock=clock)
    listener = ScanOnPush(db, jobs, policies, Path("/nonexistent"))  # type: ignore[arg-type]
    for number in range(5):
        await listener.manifest_stored(_pushed(namespace_id, f"v{number}"))
    assert [job["tag"] for job in jobs.submitted] == [f"v{n}" for n in range(5)]
    assert policies.push_policy_reads == 1
    clock.now += 1.5
    await listener.manifest_stored(_pushed(namespace_id, "v5"))
    assert policies.push_policy_reads == 2 and len(jobs.submitted) == 6


@pytest.mark.asyncio
async def test_a_change_applies_at_once_here_and_within_the_period_on_another_node(
    nodes: tuple[Database, Database],
) -> None:
    here_db, there_db = nodes
    namespace_id, principal = _organization(here_db, "shared-org")
    clock = Clock()
    here = PolicyService(here_db, scan_on_push_default=False, cache_seconds=1.0, clock=clock)
    there = PolicyService(there_db, scan_on_push_default=False, cache_seconds=1.0, clock=clock)
    assert not await here.scans_push(namespace_id)
    assert not await there.scans_push(namespace_id)  # both nodes now hold "not scanned"

    await here.set(principal, "shared-org", scan_on_push=True, block_severity="", block_unscanned=False, allowlist=[])
    assert await here.scans_push(namespace_id)  # the node that changed it: at once
    assert not await there.scans_push(namespace_id)  # another node: its cached answer, for now
    clock.now += 1.01
    assert await there.scans_push(namespace_id)  # within cache_seconds
    assert await here.scans_push(namespace_id)  # read again: held for another period

    _set_scan_on_push(there_db, namespace_id, False)  # changed elsewhere: this node learns it in time
    assert await here.scans_push(namespace_id)
    clock.now += 1.01
    assert not await here.scans_push(namespace_id)


@pytest.mark.asyncio
async def test_no_cache_reads_every_push(nodes: tuple[Database, Database]) -> None:
    db, other = nodes
    namespace_id, _principal = _organization(db, "uncached")
    policies = PolicyService(db, scan_on_push_default=True, cache_seconds=0.0)
    assert await policies.scans_push(namespace_id)  # no policy: the global setting
    _set_scan_on_push(other, namespace_id, False)
    assert not await policies.scans_push(namespace_id)
    assert policies.push_policy_reads == 2
