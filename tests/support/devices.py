"""A small real filesystem for disk-full tests: a tmpfs of a few MiB, mounted for one test and
unmounted after (needs root and mount rights; the test is skipped where the sandbox forbids it)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.tools import require_root, require_tool, unavailable


@contextmanager
def small_tmpfs(mountpoint: Path, size: int) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` bytes at ``mountpoint`` (created) for the ``with`` block."""
    require_tool("mount")
    require_root("mounting a tmpfs")
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        unavailable(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
