"""Helpers of the CI/CD tests: images built with umoci as a pipeline would, the generated command
run as a subprocess, and the server's master key (to forge an expired credential)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from moorage.auth.keys import MasterKey
from tests.support.servers import ServerProcess
from tests.support.tools import require_tool

VULNERABLE = {"urllib3": "1.26.0"}
"""urllib3 < 2.0.0 is critical in ``tests.hss.support.ADVISORIES``."""
CLEAN = {"flask": "3.0.0"}
"""No fixture advisory names flask."""


@dataclass(frozen=True)
class Built:
    """An image umoci built in an OCI layout."""

    layout: Path
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        """What ``moorage scan`` and skopeo read: ``oci:<layout>:<tag>``."""
        return f"oci:{self.layout}:{self.tag}"


def _umoci(*args: str, cwd: Path) -> str:
    done = subprocess.run(["umoci", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"umoci {' '.join(args)}: {done.stderr}"
    return done.stdout


def build_python_image(work: Path, tag: str, packages: dict[str, str]) -> Built:
    """An image with ``packages`` installed (pip's dist-info), built with umoci (rootless)."""
    require_tool("umoci")
    layout = work / "layout"
    if not layout.exists():
        _umoci("init", "--layout", str(layout), cwd=work)
    _umoci("new", "--image", f"{layout}:{tag}", cwd=work)
    bundle = work / f"bundle-{tag}"
    _umoci("unpack", "--rootless", "--image", f"{layout}:{tag}", str(bundle), cwd=work)
    root = bundle / "rootfs"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/os-release").write_text('ID=moorage-test\nVERSION_ID="1"\n')
    for name, version in packages.items():
        info = root / f"usr/lib/python3/dist-packages/{name}-{version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    _umoci("repack", "--image", f"{layout}:{tag}", str(bundle), cwd=work)
    index = json.loads((layout / "index.json").read_text())
    digest = next(
        m["digest"]
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    )
    return Built(layout, tag, digest)


def run_command(
    command: str, image: Built, *, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a generated ``moorage scan`` command as a pipeline would (a subprocess), reading the
    image from ``image``'s layout instead of the name in the command."""
    words = shlex.split(command)
    assert words[:2] == ["moorage", "scan"], command
    words[2] = image.reference  # the pipeline built it locally: scan the layout
    moorage = Path(sys.executable).with_name("moorage")
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [str(moorage), *words[1:], "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )


def master_key(server: ServerProcess) -> MasterKey:
    """The server's master key (its data directory's file)."""
    return MasterKey.load_or_create(server.data_dir / "master.key")
