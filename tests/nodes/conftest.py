"""The multi-node deployment the tests in this package run against: two API nodes and two workers on
one PostgreSQL database, one Redis and one blob storage, behind nginx with the shipped site file
(``tests/support/cluster.py``). One deployment per storage backend, shared by the package's tests in
their order (starting one costs several seconds of CPU per process).

The storage backend is the parameter: ``TESTED_BACKENDS`` and ``storage_env`` in
``tests/support/cluster.py`` name each backend and its settings; adding one there runs every test of
this package on it too."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support import tools
from tests.support.cluster import TESTED_BACKENDS

if TYPE_CHECKING:
    from tests.support import postgres
    from tests.support.cluster import Cluster

LOGIN_FREE_FAILURES = 4
"""Failed logins of one user name from one address before it must wait (a brute force test's bound)."""
LOGIN_WAIT_SECONDS = 120
"""The wait after them: long enough that the test never sees it end."""
UPLOAD_LEASE_SECONDS = 3
"""How long a chunk cut off by a killed node holds its upload session."""
PURGE_INTERVAL_SECONDS = 1
"""The upload purge's period: short, so the test sees many periods."""
JOB_LEASE_SECONDS = 5
"""A killed worker's job is taken over this long after its last heartbeat."""

FAST_SETTINGS = {
    "MOORAGE_REGISTRY__UPLOAD_LEASE_SECONDS": str(UPLOAD_LEASE_SECONDS),
    "MOORAGE_REGISTRY__PURGE_INTERVAL_SECONDS": str(PURGE_INTERVAL_SECONDS),
    "MOORAGE_AUTH__LOGIN_FAILURES_PER_WINDOW": str(LOGIN_FREE_FAILURES),
    "MOORAGE_AUTH__LOGIN_BACKOFF_SECONDS": str(LOGIN_WAIT_SECONDS),
    "MOORAGE_JOBS__LEASE_SECONDS": str(JOB_LEASE_SECONDS),
    "MOORAGE_JOBS__RECOVER_INTERVAL_SECONDS": "1",
    "MOORAGE_JOBS__STALE_PENDING_SECONDS": "5",
    # The scan tests read a slow registry of the test's on loopback, which tenants may not reach by default.
    "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",
}


@pytest.fixture(scope="module", params=TESTED_BACKENDS)
def storage_backend(request: pytest.FixtureRequest) -> str:
    """The storage every node and worker shares (see ``tests.support.cluster.TESTED_BACKENDS``)."""
    return str(request.param)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis of the deployment's own (the job queue and the login throttle's counters)."""
    from tests.support import redis_server

    tools.require_tool(redis_server.REDIS_BIN)
    server = redis_server.start(secrets.token_urlsafe(16))
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(
    request: pytest.FixtureRequest,
    storage_backend: str,
    redis_url: str,
    pg_server: postgres.PostgresServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    """Two API nodes and two workers behind nginx (TLS), on a new PostgreSQL database."""
    from tests.hss.support import build_advisories
    from tests.support import nginx
    from tests.support.cluster import start_cluster, storage_env

    tools.require_tool(nginx.NGINX_BIN, nginx.OPENSSL, "ss")
    directory = tmp_path_factory.mktemp(f"cluster-{storage_backend}")
    vulndb = build_advisories(directory / "advisories")
    deployment = start_cluster(
        directory / "deployment",
        database_url=pg_server.create_database(f"t_{uuid.uuid4().hex[:12]}"),
        redis_url=redis_url,
        storage=storage_env(
            storage_backend,
            directory,
            s3=request.getfixturevalue("s3_server") if storage_backend == "s3" else None,
        ),
        nodes=2,
        workers=2,
        admin=(ADMIN_USER, ADMIN_PASSWORD),
        env={**FAST_SETTINGS, "MOORAGE_SCANNER__VULNDB_PATH": str(vulndb)},
    )
    try:
        yield deployment
    finally:
        deployment.stop()
