"""Fixtures of the end-to-end suite: the spec suite's registry (same target selection, first backend
only), a moorage for the clients that log in, and an environment that keeps real clients off the
user's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SessionCache
from tests.support.registry_target import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    RegistryBackend,
    _apply_target_markers,
    make_registry_backend,
    metadata_backends,
    pytest_configure,
    registry,
    registry_target,
)
from tests.support.servers import ServerProcess, start_moorage

__all__ = ["_apply_target_markers", "pytest_configure", "registry", "registry_backend"]


@pytest.fixture(scope="module", params=metadata_backends()[:1])
def registry_backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> RegistryBackend:
    """The spec suite's registry, on its first backend only (SQLite; the reference's filesystem): the
    clients exercise the HTTP edge, which is the same on PostgreSQL, and tests/oci covers PostgreSQL."""
    return make_registry_backend(request, str(request.param), tmp_path_factory, session_cache)


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache) -> ServerProcess:
    """moorage on SQLite for the real-client tests (podman, ctr, docker), with the suite's
    administrator and the access log on, so a test can see which requests a client made (from an
    offset: the server serves every such module of the test process). The clients exercise the HTTP
    edge, which is the same on PostgreSQL, and the spec suite covers PostgreSQL, so these modules do
    not run twice. It is moorage whatever ``MOORAGE_TEST_TARGET`` names: these tests log in, and the
    reference registry asks for no credentials."""

    def start() -> ServerProcess:
        data_dir = tmp_path_factory.mktemp("clients-registry")
        env = {
            "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
            "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MOORAGE_ACCESS_LOG": "true",
            "MOORAGE_DATABASE_URL": f"sqlite:///{data_dir / 'moorage.db'}",
        }
        return start_moorage(data_dir, env=env)

    return session_cache.get("e2e-clients-registry", start, close=ServerProcess.stop)


@pytest.fixture
def target() -> str:
    """``moorage`` or ``reference``."""
    return registry_target()


@pytest.fixture
def client_env(tmp_path: Path) -> dict[str, str]:
    """Environment for container tools: a private HOME, runtime dir and empty registries.conf."""
    home = tmp_path / "home"
    runtime = tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    registries_conf = tmp_path / "registries.conf"
    registries_conf.write_text("unqualified-search-registries = []\n")
    auth = tmp_path / "auth.json"
    auth.write_text('{"auths": {}}\n')
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
        "REGISTRY_AUTH_FILE": str(auth),
        "TMPDIR": str(tmp_path),
    }
