"""Fixtures of the scan tests: an image with planted problems, and advisory databases.

The planted image is built with the checks' own layer builder (exact modes and owners) and
written as a gzip OCI layout, so it goes through the real pipeline: source, one pass per layer,
cache, flattening, analyzers, checks, matching. Three layers:

0. base: Debian 12 os-release and dpkg status (libc6 from glibc 2.36-9, zlib1g), accounts with a
   passwordless ``guest``, ``/tmp`` (sticky, fine), a world-writable ``/app/uploads``, ``su``
   set-uid (allowed), a set-uid ``/usr/local/bin/helper`` (not allowed), a session token under
   ``/var/cache/app`` (hidden by layer 2);
1. application: a private key in ``/root/.ssh/id_rsa``, an AWS key pair in ``/app/.env``, the
   EICAR file, a key in ``/app/deploy.pem`` (deleted by layer 2), a password in
   ``/app/config.yaml`` (replaced by layer 2), and a pip-installed ``requests`` 2.30.0;
2. clean-up: the whiteout, the replacement, the opaque directory.

The history's second entry (the application layer) is a ``curl | sh``; the config sets no user,
so the image runs as root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from moorage.domain.oci_platform import Platform
from moorage.scanner.analysis import AnalysisOptions
from moorage.scanner.cache import LayerCache
from moorage.scanner.scan import ScanOptions
from tests.scanner.advisories.feedwriters import (
    debian_release,
    osv_record,
    write_debian_tracker,
    write_osv_dir,
)
from tests.scanner.checks.conftest import aws_key_pair
from tests.scanner.checks.layers import LayerBuilder as PlantingLayerBuilder
from tests.scanner.checks.test_malware import EICAR
from tests.scanner.checks.test_secrets import rsa_pem
from tests.scanner.imagebuild import ImageSpec, Layer, write_oci_layout
from tests.scanner.matching.world import build_world

AMD64 = Platform("linux", "amd64")
STATUS = (
    "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n\n"
    "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"
    "Source: zlib\n"
)
REQUESTS_METADATA = "/usr/local/lib/python3.11/site-packages/requests-2.30.0.dist-info/METADATA"
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:0a1b2c in / "},
    {"created_by": "RUN /bin/sh -c curl -fsSL https://get.example.com/install.sh | sh # buildkit"},
    {"created_by": "RUN /bin/sh -c rm /app/deploy.pem # buildkit"},
    {"created_by": '/bin/sh -c #(nop)  CMD ["/app/run"]', "empty_layer": True},
]


@dataclass(frozen=True)
class PlantedImage:
    """The planted image's layout and what was planted."""

    layout: Path
    """OCI layout directory (tag ``latest``)."""
    layers: tuple[str, str, str]
    """Layer digests: base, application, clean-up."""
    leaked: dict[str, str]
    """The secret values planted (none may appear in any output)."""


def _tar_bytes(builder: PlantingLayerBuilder, folder: Path, name: str) -> bytes:
    _, path = builder.write(folder, name)
    return path.read_bytes()


def planted_layers(folder: Path, leaked: dict[str, str]) -> list[Layer]:
    """The three layers (gzip) with everything planted (see the module docstring)."""
    base = (
        PlantingLayerBuilder()
        .directory("/etc")
        .file(
            "/etc/os-release",
            'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
        )
        .directory("/var/lib/dpkg")
        .file("/var/lib/dpkg/status", STATUS)
        .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nguest:x:1000:1000::/home/guest:/bin/bash\n")
        .file("/etc/shadow", "root:*:19000:0:99999:7:::\nguest::19000:0:99999:7:::\n", mode=0o640)
        .directory("/tmp", mode=0o1777)
        .directory("/app")
        .directory("/app/uploads", mode=0o777)
        .directory("/usr/bin")
        .file("/usr/bin/su", b"\x7fELF\x00su", mode=0o4755)
        .directory("/usr/local/bin")
        .file("/usr/local/bin/helper", b"\x7fELF\x00helper", mode=0o4755)
        .directory("/var/cache/app")
        .file("/var/cache/app/session.env", f"SESSION_TOKEN={leaked['secret_key'][::-1]}\n")
    )
    application = (
        PlantingLayerBuilder()
        .directory("/root/.ssh", mode=0o700)
        .file("/root/.ssh/id_rsa", leaked["pem"], mode=0o600)
        .file("/app/.env", f"AWS_ACCESS_KEY_ID={leaked['key_id']}\nAWS_SECRET_ACCESS_KEY={leaked['secret_key']}\n")
        .file("/opt/eicar.com", EICAR)
        .file("/app/deploy.pem", leaked["pem"])
        .file("/app/config.yaml", f"db:\n  password: {leaked['secret_key'][:20]}\n")
        .file(REQUESTS_METADATA, "Metadata-Version: 2.1\nName: requests\nVersion: 2.30.0\nLicense: Apache-2.0\n")
    )
    cleanup = (
        PlantingLayerBuilder()
        .whiteout("/app/deploy.pem")
        .file("/app/config.yaml", "db:\n  password_file: /run/secrets/db\n")
        .opaque("/var/cache/app")
    )
    return [
        Layer.of(_tar_bytes(builder, folder, name), "gzip")
        for builder, name in ((base, "base"), (application, "app"), (cleanup, "cleanup"))
    ]


def write_planted_image(folder: Path) -> PlantedImage:
    """Plant fresh secrets and write the image under ``folder``."""
    key_id, secret_key = aws_key_pair()
    leaked = {"key_id": key_id, "secret_key": secret_key, "pem": rsa_pem()}
    layers = planted_layers(folder, leaked)
    layout = folder / "layout"
    write_oci_layout(
        layout,
        ImageSpec(layers, history=HISTORY, config_extra={"config": {"Cmd": ["/app/run"]}}),
    )
    digests = tuple(layer.digest for layer in layers)
    assert len(digests) == 3
    return PlantedImage(layout, (digests[0], digests[1], digests[2]), leaked)


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> PlantedImage:
    """The planted image (built once per session; never modified: copy it to break it)."""
    return write_planted_image(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="session")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The matcher tests' advisory world (requests < 2.31.0, glibc, zlib...) as a database."""
    return build_world(tmp_path_factory.mktemp("world"))


def scan_options(
    store: object | None = None,
    *,
    scanners: tuple[str, ...] = ("vuln", "secret", "malware", "config"),
    cache: LayerCache | None = None,
    executor: str = "serial",
    **check_options: object,
) -> ScanOptions:
    """Options for the tests: amd64, serial unless told, no cache unless given."""
    from moorage.scanner.checks import CheckOptions

    return ScanOptions(
        scanners=scanners if store is not None else tuple(s for s in scanners if s != "vuln"),
        check_options=CheckOptions(**check_options),  # type: ignore[arg-type]
        advisory_store=store,  # type: ignore[arg-type]
        analysis=AnalysisOptions(cache=cache, executor=executor),
        platform=AMD64,
    )


def write_feeds(root: Path, *, version: int) -> list[str]:
    """Advisory feeds for re-matching: version 1, then version 2 one day later.

    * ``GHSA-rrrr-1111-aaaa`` on requests < 2.31.0: in both; version 2 adds its CVE alias, which
      becomes the main id (the finding keeps its report id);
    * ``GHSA-ffff-2222-bbbb`` on requests < 2.30.1: only in version 1 (withdrawn in version 2);
    * ``GHSA-nnnn-3333-cccc`` on requests >= 2.0, < 2.32.0: only in version 2 (new);
    * Debian ``CVE-2023-4911`` on glibc < 2.36-9+deb12u3 for bookworm: in both, unchanged.
    """
    requests_main = osv_record(
        "GHSA-rrrr-1111-aaaa",
        package="requests",
        events=[{"introduced": "0"}, {"fixed": "2.31.0"}],
        aliases=["CVE-2024-7777"] if version == 2 else [],
        summary="requests leaks headers",
    )
    records = [requests_main]
    if version == 1:
        records.append(
            osv_record(
                "GHSA-ffff-2222-bbbb",
                package="requests",
                events=[{"introduced": "0"}, {"fixed": "2.30.1"}],
                summary="an advisory later withdrawn",
            )
        )
    else:
        records.append(
            osv_record(
                "GHSA-ffff-2222-bbbb",
                package="requests",
                events=[{"introduced": "0"}, {"fixed": "2.30.1"}],
                withdrawn="2024-06-01T00:00:00Z",
            )
        )
        records.append(
            osv_record(
                "GHSA-nnnn-3333-cccc",
                package="requests",
                events=[{"introduced": "2.0"}, {"fixed": "2.32.0"}],
                summary="a new requests advisory",
            )
        )
    osv = write_osv_dir(root / f"osv-{version}", records)
    tracker = write_debian_tracker(
        root / f"debian-{version}" / "json",
        {
            "glibc": {
                "CVE-2023-4911": {
                    "bookworm": debian_release("resolved", fixed_version="2.36-9+deb12u3", urgency="high")
                }
            }
        },
    )
    return [f"osv:{osv}", f"debian:{tracker}"]
