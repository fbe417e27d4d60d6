"""Scanner test fixtures shared across modules: a small two-layer Debian-like image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scanner.imagebuild import ImageSpec, Layer, LayerBuilder, write_oci_layout

STATUS = (
    "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n\n"
    "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"
    "Source: zlib\n"
)


def small_image_layers(arch_note: str = "", app_compression: str = "zstd") -> list[Layer]:
    """Base layer (os-release, dpkg status) and an app layer (a pip-installed package)."""
    base = (
        LayerBuilder()
        .file(
            "/usr/lib/os-release",
            'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
        )
        .symlink("/etc/os-release", "../usr/lib/os-release")
        .file("/var/lib/dpkg/status", STATUS)
    )
    app = LayerBuilder().file(
        f"/usr/local/lib/python3.11/site-packages/flask{arch_note}-3.0.0.dist-info/METADATA",
        f"Metadata-Version: 2.1\nName: flask{arch_note}\nVersion: 3.0.0\nLicense: BSD-3-Clause\n",
    )
    return [Layer.of(base, "gzip"), Layer.of(app, app_compression)]


@pytest.fixture(scope="session")
def small_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout holding the small image, tagged ``latest``."""
    root = Path(tmp_path_factory.mktemp("small")) / "layout"
    write_oci_layout(root, ImageSpec(small_image_layers()))
    return root


@pytest.fixture(scope="session")
def multiarch_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout whose index has linux/amd64 and linux/arm64/v8 images with different packages."""
    root = Path(tmp_path_factory.mktemp("multi")) / "layout"
    write_oci_layout(
        root,
        [
            ImageSpec(small_image_layers("-amd")),
            ImageSpec(small_image_layers("-arm"), architecture="arm64", variant="v8"),
        ],
    )
    return root


@pytest.fixture(scope="session")
def small_gzip_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small image with gzip layers only (docker archives cannot carry zstd)."""
    root = Path(tmp_path_factory.mktemp("small-gzip")) / "layout"
    write_oci_layout(root, ImageSpec(small_image_layers(app_compression="gzip")))
    return root
