"""Drive Debian's skopeo against a test registry (plain HTTP on loopback)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.tools import require_tool


class SkopeoError(AssertionError):
    """skopeo exited with an error; the message holds its output."""


def run(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``skopeo <args>`` with output captured."""
    require_tool("skopeo")
    result = subprocess.run(["skopeo", *args], text=True, capture_output=True, timeout=timeout)
    if check and result.returncode != 0:
        raise SkopeoError(f"skopeo {' '.join(args)} failed:\n{result.stderr}")
    return result


def _creds(creds: tuple[str, str] | None, flag: str) -> list[str]:
    return [flag, f"{creds[0]}:{creds[1]}"] if creds else [flag.replace("creds", "no-creds")]


def push(
    layout: Path,
    tag: str,
    destination: str,
    *,
    creds: tuple[str, str] | None = None,
    all_images: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Copy ``oci:<layout>:<tag>`` to ``docker://<destination>``."""
    extra = ["--all"] if all_images else []
    return run(
        "copy",
        "--retry-times",
        "0",
        "--dest-tls-verify=false",
        *_creds(creds, "--dest-creds"),
        *extra,
        f"oci:{layout}:{tag}",
        f"docker://{destination}",
        check=check,
    )


def pull(
    source: str,
    layout: Path,
    tag: str,
    *,
    creds: tuple[str, str] | None = None,
    all_images: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Copy ``docker://<source>`` to ``oci:<layout>:<tag>``."""
    extra = ["--all"] if all_images else []
    return run(
        "copy",
        "--retry-times",
        "0",
        "--src-tls-verify=false",
        *_creds(creds, "--src-creds"),
        *extra,
        f"docker://{source}",
        f"oci:{layout}:{tag}",
        check=check,
    )


def inspect_raw(reference: str, *, creds: tuple[str, str] | None = None) -> dict[str, Any]:
    """The manifest as the registry serves it."""
    out = run("inspect", "--raw", "--tls-verify=false", *_creds(creds, "--creds"), f"docker://{reference}").stdout
    result: dict[str, Any] = json.loads(out)
    return result
