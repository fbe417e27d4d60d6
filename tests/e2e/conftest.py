"""Fixtures of the end-to-end suite: a running registry per module (same target selection and
backends as the spec suite) and an environment that keeps real clients off the user's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.registry_target import (
    _apply_target_markers,
    pytest_configure,
    registry,
    registry_backend,
    registry_target,
)

__all__ = ["_apply_target_markers", "pytest_configure", "registry", "registry_backend"]


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
