"""A clean minimal Debian bookworm root filesystem for the checks' false-positive tests.

Built once with ``debootstrap --variant=minbase bookworm`` from Debian's mirror (the one download
the tests may make) and cached as a tar of the root filesystem under
``~/.cache/moorage-tests/debootstrap-bookworm-minbase.tar``. Another helper shares the cache
name, so the tar is written to a temporary file and renamed into place, and reused when present.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "moorage-tests"
ROOTFS_TAR = CACHE_DIR / "debootstrap-bookworm-minbase.tar"
FALLBACK_TAR = CACHE_DIR / "debootstrap-bookworm-minbase.rootfs.tar"
MIRROR = os.environ.get("MOORAGE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def _is_rootfs_tar(path: Path) -> bool:
    """True when ``path`` is a tar of a root filesystem (it holds ``etc/os-release``)."""
    try:
        with tarfile.open(path) as archive:
            names = {name.lstrip("./") for name in archive.getnames()}
    except (tarfile.TarError, OSError):
        return False
    return "etc/os-release" in names or "usr/lib/os-release" in names


def debootstrap_available() -> bool:
    """True when a cached tar exists or debootstrap can build one (it needs root for chroot)."""
    if ROOTFS_TAR.exists() or FALLBACK_TAR.exists():
        return True
    return shutil.which("debootstrap") is not None and os.geteuid() == 0


def bookworm_minbase_tar() -> Path:
    """Return the cached root-filesystem tar, building it with debootstrap on first use.

    Test workers (pytest-xdist) take a lock file beside the tar, so one builds while the others
    wait; anything else that writes the same name renames a finished file into place, so a
    reader never sees half a tar either way.
    """
    for candidate in (ROOTFS_TAR, FALLBACK_TAR):
        if candidate.exists() and _is_rootfs_tar(candidate):
            return candidate
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / (ROOTFS_TAR.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for candidate in (ROOTFS_TAR, FALLBACK_TAR):
            if candidate.exists() and _is_rootfs_tar(candidate):
                return candidate
        # Someone cached something else under the shared name (a --make-tarball of .debs, say):
        # leave it alone and keep our root filesystem beside it.
        target = FALLBACK_TAR if ROOTFS_TAR.exists() else ROOTFS_TAR
        _build(target)
    return target


def _build(destination: Path) -> None:
    """Run debootstrap into a temporary directory and rename its tar into the cache."""
    with tempfile.TemporaryDirectory(prefix="moorage-debootstrap-", dir=CACHE_DIR) as work:
        target = Path(work) / "rootfs"
        subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(target), MIRROR],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=1800,
        )
        partial = Path(work) / "rootfs.tar"
        # numeric owners and the exact modes: the baseline checks read them.
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(target), "-cf", str(partial), "."],
            check=True,
            timeout=600,
        )
        os.replace(partial, destination)
