"""Helpers of the image-security tests: a small advisory database built with the advisories
helper's feed writers, images with Python packages planted in them, the official HSS SDK client,
skopeo pushes, direct access to a running server's database, and waiting for jobs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkhss.v5 import HssClient

from moorage.metadata.database import Database
from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.sources import parse_source
from tests.scanner.advisories.feedwriters import osv_record, write_osv_dir
from tests.support import swr_images as si
from tests.support.servers import ServerProcess
from tests.support.tools import require_tool

T = TypeVar("T")
CVSS_HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"  # 9.1 -> critical
CVSS_MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"  # 5.3

ADVISORIES = [
    osv_record(
        "GHSA-hss1-0001-0001",
        package="requests",
        events=[{"introduced": "0"}, {"fixed": "2.31.0"}],
        aliases=["CVE-2031-0001"],
        summary="requests leaks headers",
        severity=[{"type": "CVSS_V3", "score": CVSS_MEDIUM}],
    ),
    osv_record(
        "GHSA-hss1-0002-0002",
        package="urllib3",
        events=[{"introduced": "0"}, {"fixed": "2.0.0"}],
        aliases=["CVE-2031-0002"],
        summary="urllib3 request smuggling",
        severity=[{"type": "CVSS_V3", "score": CVSS_HIGH}],
    ),
    osv_record(
        "GHSA-hss1-0003-0003",
        package="jinja2",
        events=[{"introduced": "0"}, {"fixed": "3.1.3"}],
        aliases=["CVE-2031-0003"],
        summary="jinja2 sandbox escape",
        severity=[{"type": "CVSS_V3", "score": CVSS_MEDIUM}],
    ),
]
"""requests < 2.31.0 (medium), urllib3 < 2.0.0 (critical), jinja2 < 3.1.3 (medium)."""


def build_advisories(directory: Path, records: list[dict[str, Any]] | None = None) -> Path:
    """An advisory database built from OSV records (default ``ADVISORIES``) by the real builder."""
    feeds = write_osv_dir(directory / "osv", records if records is not None else ADVISORIES)
    database = directory / "vulndb.sqlite"
    build_database([parse_source(f"osv:{feeds}")], database)
    return database


def dist_info(name: str, version: str) -> dict[str, bytes]:
    """The files pip leaves for an installed package (what the Python analyzer reads)."""
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
    return {f"usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA": metadata.encode()}


BASE_LAYERS = [{"etc/os-release": b'ID=moorage-test\nVERSION_ID="1"\n'}, {"usr/share/base.txt": b"base layer two"}]


def python_image(packages: dict[str, str], *, label: str = "", base: list[dict[str, bytes]] | None = None) -> si.Image:
    """An image whose top layer installs ``packages`` (name -> version) over shared base layers."""
    top: dict[str, bytes] = {}
    for name, version in packages.items():
        top.update(dist_info(name, version))
    top[f"etc/label-{label or 'none'}"] = label.encode()
    return si.image([*(base if base is not None else BASE_LAYERS), top], label=label)


def hss_client(server: ServerProcess, keys: tuple[str, str, str]) -> HssClient:
    """The official SDK client with AK/SK and the project id, pointed at ``server``."""
    access, secret, project = keys
    return (
        HssClient.new_builder()
        .with_credentials(BasicCredentials(access, secret, project))
        .with_endpoints([server.base_url])
        .build()
    )


def database(server: ServerProcess) -> Database:
    """The server's own database (SQLite file or PostgreSQL), opened by the test."""
    return Database(server.env["MOORAGE_DATABASE_URL"], pool_size=2)


@contextmanager
def opened(server: ServerProcess) -> Iterator[Database]:
    """``database`` that is disposed of afterwards."""
    db = database(server)
    try:
        yield db
    finally:
        db.dispose()


def wait_for(check: Callable[[], T | None], *, timeout: float = 90.0, interval: float = 0.3, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        time.sleep(interval)


def skopeo_env(tmp_path: Path) -> dict[str, str]:
    """An environment that keeps skopeo off the user's configuration."""
    home = tmp_path / "skopeo-home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmp_path)}


def skopeo_push(
    layout: Path,
    tag: str,
    destination: str,
    *,
    creds: tuple[str, str] | None,
    env: dict[str, str],
    all_images: bool = False,
) -> None:
    """``skopeo copy oci:<layout>:<tag> docker://<destination>`` over plain HTTP (``--all`` for an index)."""
    require_tool("skopeo")
    args = [
        "skopeo",
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        *(["--all"] if all_images else []),
        *(["--dest-creds", f"{creds[0]}:{creds[1]}"] if creds else ["--dest-no-creds"]),
        f"oci:{layout}:{tag}",
        f"docker://{destination}",
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stderr}"
