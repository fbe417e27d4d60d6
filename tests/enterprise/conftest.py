"""Servers for the Enterprise Edition tests: ``moorage serve`` listening on 127.0.0.1 (the shared
registry and the management API) and on 127.0.0.5 and 127.0.0.6 (instances' domain names: the
operator's allowlist dedicates them to instances, with names under ``example.test``), on one port,
with short job leases so that recovery after a kill takes seconds. Everything is stopped by process id."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    DATABASES,
    database_url_for,
    migrated_database_url,
    template_fits,
)
from tests.support.servers import ServerProcess, start_moorage, stop_all

if TYPE_CHECKING:  # the SDK loads with the first server fixture, not when the pure unit tests collect
    from tests.conftest import SessionCache
    from tests.enterprise.support import Enterprise

INSTANCE_HOST = "127.0.0.5"
SECOND_INSTANCE_HOST = "127.0.0.6"
ALLOWED_DOMAINS = f"{INSTANCE_HOST},{SECOND_INSTANCE_HOST},example.test"

FAST_JOBS = {
    "MOORAGE_JOBS__LEASE_SECONDS": "5",
    "MOORAGE_JOBS__RECOVER_INTERVAL_SECONDS": "1",
    "MOORAGE_JOBS__STALE_PENDING_SECONDS": "5",
    "MOORAGE_ACCESS_LOG": "false",
    "MOORAGE_ENTERPRISE__SCHEDULE_INTERVAL_SECONDS": "1",
    "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
    "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
    "MOORAGE_ENTERPRISE__ALLOWED_DOMAIN_SUFFIXES": ALLOWED_DOMAINS,
}

StartServer = Callable[..., ServerProcess]


def _starter(request: pytest.FixtureRequest, base: Path) -> tuple[StartServer, list[ServerProcess]]:
    started: list[ServerProcess] = []

    def start(
        *,
        database: str = "sqlite",
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        port: int | None = None,
        database_url: str | None = None,
    ) -> ServerProcess:
        directory = data_dir or base / f"ee-{len(started)}-{secrets.token_hex(3)}"
        directory.mkdir(parents=True, exist_ok=True)
        if database_url is not None:
            url = database_url
        elif data_dir is None and template_fits(env):  # a first start: from the migrated template
            url = migrated_database_url(request, database, directory)
        else:
            url = database_url_for(request, database, directory)
        full_env = {"MOORAGE_DATABASE_URL": url, "MOORAGE_DATA_DIR": str(directory), **FAST_JOBS, **(env or {})}
        server = start_moorage(
            directory,
            env=full_env,
            port=port,
            wait=False,
            extra_args=["--host", INSTANCE_HOST, "--host", SECOND_INSTANCE_HOST],
        )
        started.append(server)
        server.wait_ready(timeout=120)  # two test processes start servers at once on two cores
        return server

    return start, started


@pytest.fixture
def ee_server_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartServer]:
    """Start servers on demand (also again on the same data directory, port and database)."""
    start, started = _starter(request, tmp_path)
    yield start
    stop_all(started)


SHARED_ENV = {"MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8"}
"""The shared server's settings: replication reaches the registries the tests start on loopback."""


@pytest.fixture(scope="module", params=DATABASES)
def ee(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> Iterator[Enterprise]:
    """One server per database for the whole test process (per xdist worker), with the administrator's
    SDK client, shared by the modules that use it: a start costs seconds of CPU, and each module works
    in instances, namespaces, policies and users of its own (unique names). What they do share, the
    addresses their instances are reached at (127.0.0.5 and 127.0.0.6 on the server's port), each
    module gives back at its end: the domain names of every instance are deleted."""
    from tests.enterprise.support import connect, release_domain_names

    database = str(request.param)

    def start() -> ServerProcess:
        starter, _ = _starter(request, tmp_path_factory.mktemp("ee"))
        return starter(database=database, env=SHARED_ENV)

    server = session_cache.get(f"ee-server:{database}", start, close=ServerProcess.stop)
    enterprise = session_cache.get(f"ee:{database}", lambda: connect(server))
    try:
        yield enterprise
    finally:
        release_domain_names(enterprise)


@pytest.fixture(scope="module")
def ee_sqlite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Enterprise]:
    """One SQLite-backed server per test module, for the tests driving real container tools."""
    from tests.enterprise.support import connect

    start, started = _starter(request, tmp_path_factory.mktemp("ee"))
    server = start(database="sqlite")
    try:
        yield connect(server)
    finally:
        stop_all(started)
