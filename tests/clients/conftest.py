"""Registries for the client tests: Debian's docker-registry anonymous, with htpasswd (Basic), and
with token auth backed by a tiny Starlette token server (Bearer), all on loopback. The machinery is in
tests/clients/registries.py, imported by the fixtures only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.scanner.conftest import small_image_layers
from tests.scanner.imagebuild import ImageSpec, skopeo_copy, write_oci_layout
from tests.support.servers import REFERENCE_REGISTRY_BIN, ServerProcess, start_reference_registry
from tests.support.tools import require_tool

if TYPE_CHECKING:
    from tests.clients.registries import TokenIssuer


@pytest.fixture(scope="session")
def image_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("client-image")) / "layout"
    write_oci_layout(
        root,
        [
            ImageSpec(small_image_layers("-amd", "gzip")),
            ImageSpec(small_image_layers("-arm", "gzip"), architecture="arm64"),
        ],
    )
    return root


@pytest.fixture(scope="module")
def anonymous_registry(tmp_path_factory: pytest.TempPathFactory, image_layout: Path) -> Iterator[ServerProcess]:
    """docker-registry without auth, holding scan/multi:1 (an index) and scan/small:t0..t4."""
    require_tool(REFERENCE_REGISTRY_BIN, "skopeo")
    with start_reference_registry(Path(tmp_path_factory.mktemp("anon")) / "data") as registry:
        skopeo_copy(
            f"oci:{image_layout}:latest",
            f"docker://{registry.address}/scan/multi:1",
            "--all",
            "--dest-tls-verify=false",
        )
        for i in range(5):
            skopeo_copy(
                f"docker://{registry.address}/scan/multi:1",
                f"docker://{registry.address}/scan/small:t{i}",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--override-arch",
                "amd64",
            )
        yield registry


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory, image_layout: Path) -> Iterator[ServerProcess]:
    """docker-registry with htpasswd (bcrypt) auth."""
    from tests.clients.registries import PASSWORD, USER, bcrypt_htpasswd

    require_tool(REFERENCE_REGISTRY_BIN, "skopeo")
    work = Path(tmp_path_factory.mktemp("basic"))
    htpasswd = work / "htpasswd"
    bcrypt_htpasswd(htpasswd)
    with start_reference_registry(work / "data", htpasswd=htpasswd) as registry:
        skopeo_copy(
            f"oci:{image_layout}:latest",
            f"docker://{registry.address}/private/img:1",
            "--all",
            "--dest-tls-verify=false",
            "--dest-creds",
            f"{USER}:{PASSWORD}",
        )
        yield registry


@pytest.fixture(scope="module")
def bearer_registry(
    tmp_path_factory: pytest.TempPathFactory, image_layout: Path
) -> Iterator[tuple[ServerProcess, TokenIssuer]]:
    """docker-registry with token auth; the token server runs in a thread of this process."""
    from tests.clients import registries

    require_tool(REFERENCE_REGISTRY_BIN, "skopeo")
    with registries.bearer_registry(Path(tmp_path_factory.mktemp("bearer")), image_layout) as running:
        yield running
