"""The one rule for tests that need something outside Python (a system tool, root, a Debian package):
skip with the reason when it is missing, except under ``./dev test`` with no selection (CI), which
installs everything and sets ``MOORAGE_REQUIRE_TOOLS=1`` so that a missing tool fails the test
instead of skipping it silently.

Use ``require_tool("rpm")`` inside a test or fixture, or mark a test or module with
``pytest.mark.requires_tool("skopeo", ...)`` (the root conftest calls ``require_tool`` for the mark
before any fixture of the test is set up).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE_ENV = "MOORAGE_REQUIRE_TOOLS"
MARK = "requires_tool"

# The Debian package that provides each tool (./dev's TEST_DEBS installs them), for the skip reason.
PACKAGES = {
    "rpm": "rpm",
    "rpmbuild": "rpm",
    "skopeo": "skopeo",
    "chromium": "chromium",
    "podman": "podman",
    "buildah": "buildah",
    "ctr": "containerd",
    "containerd": "containerd",
    "docker": "docker.io",
    "dockerd": "docker.io",
    "/usr/bin/docker": "docker.io",
    "/usr/sbin/dockerd": "docker.io",
    "umoci": "umoci",
    "debootstrap": "debootstrap",
    "redis-server": "redis-server",
    "/usr/bin/redis-server": "redis-server",
    "docker-registry": "docker-registry",
    "/usr/bin/docker-registry": "docker-registry",
    "/usr/lib/postgresql/15/bin/postgres": "postgresql-15",
    "db5.3_load": "db5.3-util",
    "dpkg": "dpkg",
    "openssl": "openssl",
    "git": "git",
    "curl": "curl",
    "node": "nodejs",
    "npm": "npm",
    "readelf": "binutils",
    "objcopy": "binutils",
    "mount": "mount",
    "nginx": "nginx",
    "/usr/sbin/nginx": "nginx",
    "systemd-analyze": "systemd",
    "ss": "iproute2",
}


def tools_required() -> bool:
    """Whether a missing tool fails instead of skipping (set by the full ``./dev test``)."""
    return os.environ.get(REQUIRE_ENV, "").strip() not in ("", "0", "false", "no")


def _present(tool: str) -> bool:
    if tool.startswith("/"):
        return Path(tool).exists()
    return shutil.which(tool) is not None


def missing_tools(*tools: str) -> list[str]:
    """The ones of ``tools`` (command names or absolute paths) that are not installed."""
    return [tool for tool in tools if not _present(tool)]


def unavailable(reason: str) -> None:
    """Skip the running test for ``reason`` (something it needs is missing here); fail it instead under
    ``MOORAGE_REQUIRE_TOOLS``."""
    if tools_required():
        pytest.fail(
            f"{reason} ({REQUIRE_ENV} is set: the full run installs every tool, so nothing may be skipped)",
            pytrace=False,
        )
    # Reported at the test, not here (as a skipif mark's skip is).
    raise pytest.skip.Exception(reason, _use_item_location=True)


def require_tool(*tools: str) -> None:
    """Skip the running test (fail it under ``MOORAGE_REQUIRE_TOOLS``) unless every tool is installed."""
    absent = missing_tools(*tools)
    if absent:
        packages = sorted({PACKAGES.get(tool, tool) for tool in absent})
        unavailable(
            f"needs {', '.join(absent)} (Debian package {', '.join(packages)}; `./dev test` as root installs it)"
        )


def require_root(why: str) -> None:
    """Skip (fail under ``MOORAGE_REQUIRE_TOOLS``) unless running as root; ``why`` says what needs it."""
    if os.geteuid() != 0:
        unavailable(f"needs root: {why}")


def apply_marks(item: pytest.Item) -> None:
    """Enforce every ``requires_tool`` mark of ``item`` (called by the root conftest at setup)."""
    for mark in item.iter_markers(MARK):
        require_tool(*mark.args)
