"""``podman search`` (Debian's podman 4.3.1) against moorage: it asks for a token without a scope and
reads ``/v2/_catalog`` with it, never retrying with the ``registry:catalog:*`` scope the challenge
names, so such a token must grant the catalog; the catalog then shows only what its holder may read.

podman runs as root with every path of its own in a temporary directory (storage root, run root,
tmpdir, HOME, registries and auth files), so nothing reaches the machine's podman state.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support import skopeo
from tests.support.accounts import Account, create_user
from tests.support.ocilayout import image, write_layout
from tests.support.servers import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.requires_tool("podman"),
    # The client exercises the HTTP edge, the same on PostgreSQL; tests/oci and tests/api cover the
    # catalog's queries on both databases.
    pytest.mark.parametrize("shared_moorage", ["sqlite"], indirect=True),
]

ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
SEARCH = ("search", "--limit", "1000", "--format", "{{.Name}}")
"""Names only, and all of them: the server holds other modules' repositories too (podman shows 25)."""


@pytest.fixture
def podman_state() -> Iterator[Path]:
    """A short private directory for podman's state (podman refuses a run root over 50 characters)."""
    state = Path(tempfile.mkdtemp(prefix="pm-", dir="/tmp"))
    try:
        yield state
    finally:
        shutil.rmtree(state, ignore_errors=True)


def podman(state: Path, server: ServerProcess, account: Account, *args: str) -> subprocess.CompletedProcess[str]:
    """``podman <args>`` logged in as ``account`` to ``server``, with private state under ``state``."""
    for directory in ("root", "runroot", "tmp", "home"):
        (state / directory).mkdir(parents=True, exist_ok=True)
    auth = state / "auth.json"
    credentials = base64.b64encode(f"{account.name}:{account.password}".encode()).decode()
    auth.write_text(json.dumps({"auths": {server.address: {"auth": credentials}}}))
    registries = state / "registries.conf"
    registries.write_text("unqualified-search-registries = []\n")
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(state / "home"),
        "XDG_CONFIG_HOME": str(state / "home" / ".config"),
        "XDG_RUNTIME_DIR": str(state / "runroot"),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "REGISTRY_AUTH_FILE": str(auth),
        "TMPDIR": str(state / "tmp"),
    }
    argv = [
        "podman",
        "--root",
        str(state / "root"),
        "--runroot",
        str(state / "runroot"),
        "--tmpdir",
        str(state / "tmp"),
        "--storage-driver",
        "vfs",
        "--events-backend",
        "none",
        *args,
        "--tls-verify=false",
        "--authfile",
        str(auth),
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    img = image([{"etc/podman-search": b"found me\n"}])
    return write_layout(tmp_path_factory.mktemp("layout") / "img", {"v1": img})


def test_podman_search_lists_what_the_user_reads(
    shared_moorage: ServerProcess, layout: Path, podman_state: Path
) -> None:
    host = shared_moorage.address
    for tag in ("v1", "v2"):
        skopeo.push(layout, "v1", f"{host}/podsearch/app:{tag}", creds=(ADMIN_USER, ADMIN_PASSWORD))
    found = podman(podman_state / "admin", shared_moorage, ADMIN, *SEARCH, f"{host}/")
    assert found.returncode == 0, found.stderr
    assert f"{host}/podsearch/app" in found.stdout.split()
    narrowed = podman(podman_state / "admin", shared_moorage, ADMIN, *SEARCH, f"{host}/podsearch")
    assert narrowed.returncode == 0 and f"{host}/podsearch/app" in narrowed.stdout.split(), narrowed.stderr
    # Another account's user gets an answer too, without the repositories it may not read.
    outsider = create_user(shared_moorage, "podman-outsider")
    hidden = podman(podman_state / "outsider", shared_moorage, outsider, *SEARCH, f"{host}/")
    assert hidden.returncode == 0, hidden.stderr
    assert f"{host}/podsearch/app" not in hidden.stdout.split()


def test_podman_search_list_tags(shared_moorage: ServerProcess, layout: Path, podman_state: Path) -> None:
    host = shared_moorage.address
    for tag in ("v1", "v2"):
        skopeo.push(layout, "v1", f"{host}/podtags/app:{tag}", creds=(ADMIN_USER, ADMIN_PASSWORD))
    listed = podman(podman_state, shared_moorage, ADMIN, "search", "--list-tags", f"{host}/podtags/app")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()  # podman 4.3 prints a table whatever --format says
    assert header.split() == ["NAME", "TAG"]
    assert [row.split() for row in rows if row.strip()] == [
        [f"{host}/podtags/app", "v1"],
        [f"{host}/podtags/app", "v2"],
    ]
