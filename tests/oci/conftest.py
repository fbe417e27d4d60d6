"""Fixtures of the OCI spec suite: a running registry per module, a client, a fresh repository name.

The target is chosen with ``MOORAGE_TEST_TARGET=moorage|reference`` (see
tests/support/registry_target.py); every test works in its own repository, so one server per
module serves all of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oci.oci_client import OciClient, unique_repo
from tests.support.registry_target import (
    _apply_target_markers,
    pytest_configure,
    registry,
    registry_backend,
    registry_target,
)
from tests.support.servers import ServerProcess

__all__ = ["_apply_target_markers", "pytest_configure", "registry", "registry_backend"]


@pytest.fixture
def target() -> str:
    """``moorage`` or ``reference``."""
    return registry_target()


@pytest.fixture
def oci(registry: ServerProcess) -> Iterator[OciClient]:
    """An OCI client bound to this module's registry."""
    with OciClient(registry) as client:
        yield client


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses."""
    return unique_repo(request.node.name)
