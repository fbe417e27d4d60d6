"""Fixtures of the end-to-end suite: a running registry per module (same target selection and
backends as the spec suite) and an environment that keeps real clients off the user's config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry_target import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    _apply_target_markers,
    pytest_configure,
    registry,
    registry_backend,
    registry_target,
)
from tests.support.servers import ServerProcess, start_moorage

__all__ = ["_apply_target_markers", "pytest_configure", "registry", "registry_backend"]


@pytest.fixture(scope="module")
def sqlite_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """moorage on SQLite for one module of real-client tests (podman, ctr, docker), with the suite's
    administrator and the access log on, so a test can see which requests a client made. The
    clients exercise the HTTP edge, which is the same on PostgreSQL, and the spec suite covers
    PostgreSQL, so these modules do not run twice. It is moorage whatever ``MOORAGE_TEST_TARGET``
    names: these tests log in, and the reference registry asks for no credentials."""
    data_dir = tmp_path_factory.mktemp("clients-registry")
    env = {"MOORAGE_AUTH__ADMIN_USER": ADMIN_USER, "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
           "MOORAGE_ACCESS_LOG": "true", "MOORAGE_DATABASE_URL": f"sqlite:///{data_dir / 'moorage.db'}"}
    server = start_moorage(data_dir, env=env)
    try:
        yield server
    finally:
        server.stop()


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
