"""The registry a black-box suite runs against, as pytest fixtures shared by tests/oci and tests/e2e.

``MOORAGE_TEST_TARGET=moorage`` (default) runs moorage once per metadata backend (SQLite in the
data directory; PostgreSQL from the root conftest's ``pg_server``, or its ``pg_database_url``),
with an administrator whose credentials tests/oci/registry_auth.py uses; ``reference`` runs
Debian's docker-registry 2.8 (CNCF distribution), which asks for no credentials. Modules that
import ``registry_backend_with_s3`` also run on backend ``s3``: SQLite with the blobs in the
session's SeaweedFS (the root conftest's ``s3_server``), under a prefix of its own.

Two markers say how a test relates to the reference: ``spec_deviation(reason)`` — the reference
breaks distribution-spec v1.1 here, so the test is a strict xfail on it; ``moorage_extra(reason)``
— moorage promises more than the spec asks and the reference does not do it, so the test is
skipped on the reference. Tests of moorage promises that the reference happens to keep carry no
marker and check both. A conftest imports the fixtures and ``pytest_configure`` from here.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import ServerProcess, start_moorage, start_reference_registry

if TYPE_CHECKING:
    from tests.conftest import SessionCache

TARGET_ENV = "MOORAGE_TEST_TARGET"
ADMIN_USER = "admin"
ADMIN_PASSWORD = "oci-suite-admin-1"  # the suite's own throwaway administrator
TARGETS = ("moorage", "reference")


def registry_target() -> str:
    """The target named by ``MOORAGE_TEST_TARGET`` (default ``moorage``)."""
    target = os.environ.get(TARGET_ENV, "moorage").strip() or "moorage"
    if target not in TARGETS:
        raise pytest.UsageError(f"{TARGET_ENV}={target!r}: expected one of {', '.join(TARGETS)}")
    return target


def metadata_backends() -> list[str]:
    """Backends to parametrize over: moorage's two databases, or the reference's filesystem."""
    return ["sqlite", "postgresql"] if registry_target() == "moorage" else ["filesystem"]


@dataclass(frozen=True)
class RegistryBackend:
    """How to start the target on one backend; tests needing a private server call ``start``."""

    target: str
    backend: str
    database_url: str | None
    shared_data_dir: Path | None
    storage_env: tuple[tuple[str, str], ...] = ()
    """``MOORAGE_STORAGE__*`` settings (the S3 backend's)."""

    def data_dir(self, fresh_dir: Path) -> Path:
        """Where a server keeps blobs: ``fresh_dir``, or with PostgreSQL one directory per database.

        Blob storage and metadata must stay a pair, so every server on the same PostgreSQL
        database shares one data directory, as nodes of a scaled-out deployment would.
        """
        return self.shared_data_dir if self.shared_data_dir is not None else fresh_dir

    def start(self, data_dir: Path, *, port: int | None = None) -> ServerProcess:
        """Start a server of this target and backend on loopback, ready to serve."""
        if self.target == "reference":
            return start_reference_registry(data_dir, port=port)
        # No job worker: the registry's own behaviour needs none, and it is a third process per start.
        env = {
            "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MOORAGE_ACCESS_LOG": "false",
            "MOORAGE_JOBS__EMBEDDED_WORKER": "false",
        }
        if self.database_url:
            env["MOORAGE_DATABASE_URL"] = self.database_url
        env.update(self.storage_env)
        return start_moorage(data_dir, env=env, port=port)


def _postgresql_database(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL database from the root conftest: a fresh one on its session ``pg_server`` when
    it has one, else ``pg_database_url``; skips with the reason when neither is available."""
    try:
        cluster = request.getfixturevalue("pg_server")
        return str(cluster.create_database(f"oci_{uuid.uuid4().hex[:12]}"))
    except pytest.FixtureLookupError:
        pass
    try:
        return str(request.getfixturevalue("pg_database_url"))
    except pytest.FixtureLookupError:
        pytest.skip("PostgreSQL variant: the root conftest provides neither pg_server nor pg_database_url")


def _make_backend(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> RegistryBackend:
    target = registry_target()
    if backend == "s3":
        store = request.getfixturevalue("s3_server")
        return RegistryBackend(target, backend, None, None, storage_env=tuple(store.settings_env().items()))
    if backend != "postgresql":
        return RegistryBackend(target, backend, None, None)
    database_url = _postgresql_database(request)
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by every xdist worker of this run
    key = hashlib.sha256(database_url.encode()).hexdigest()[:12]
    shared = root / f"registry-data-pg-{key}"
    shared.mkdir(parents=True, exist_ok=True)
    return RegistryBackend(target, backend, database_url, shared)


@pytest.fixture(scope="module", params=metadata_backends())
def registry_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> RegistryBackend:
    """The target and metadata backend of this parametrization, made once per test process (module
    scope with a session cache: see ``SessionCache`` in tests/conftest.py)."""
    return make_registry_backend(request, str(request.param), tmp_path_factory, session_cache)


@pytest.fixture(
    scope="module",
    params=[*metadata_backends(), *(["s3"] if registry_target() == "moorage" else [])],
    name="registry_backend",
)
def registry_backend_with_s3(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> RegistryBackend:
    """``registry_backend`` plus moorage with its blobs on S3 (SeaweedFS): a module imports this to run
    its tests on the object store too (the OCI suite's blob, upload and mount modules do)."""
    return make_registry_backend(request, str(request.param), tmp_path_factory, session_cache)


def make_registry_backend(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> RegistryBackend:
    """The ``RegistryBackend`` of ``backend``, made once per test process."""
    return session_cache.get(f"registry_backend:{backend}", lambda: _make_backend(request, backend, tmp_path_factory))


@pytest.fixture(scope="module")
def registry(
    registry_backend: RegistryBackend, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> ServerProcess:
    """One running registry per backend for the whole run (per xdist worker): starting moorage
    takes seconds, and every test works in repositories of its own, so sharing is safe."""
    return session_cache.get(
        f"registry:{registry_backend.backend}",
        lambda: registry_backend.start(registry_backend.data_dir(tmp_path_factory.mktemp("registry"))),
        close=ServerProcess.stop,
    )


@pytest.fixture(autouse=True)
def _apply_target_markers(request: pytest.FixtureRequest) -> None:
    """Turn ``spec_deviation`` into a strict xfail and ``moorage_extra`` into a skip on the reference."""
    if registry_target() != "reference":
        return
    extra = request.node.get_closest_marker("moorage_extra")
    if extra is not None:
        pytest.skip(f"moorage extension, not required by the spec: {_reason(extra)}")
    deviation = request.node.get_closest_marker("spec_deviation")
    if deviation is not None:
        reason = f"docker-registry 2.8: {_reason(deviation)}"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _reason(marker: pytest.Mark) -> str:
    return str(marker.args[0] if marker.args else marker.kwargs.get("reason", ""))


def pytest_configure(config: pytest.Config) -> None:
    """Register the suite's markers (the run uses ``--strict-markers``)."""
    config.addinivalue_line(
        "markers", "spec_deviation(reason): the reference registry breaks the spec here (strict xfail on it)"
    )
    config.addinivalue_line(
        "markers", "moorage_extra(reason): moorage behaviour beyond the spec (skipped on the reference)"
    )
