"""containerd 1.6's ``ctr`` (Debian's ``containerd``) pulls from and pushes to moorage with a user and
password, as ``ctr images pull --user NAME:PASSWORD --plain-http`` does for a new user. With a password
containerd asks for its token by the OAuth2 form (``POST /service/token``, grant_type=password) and
only falls back to ``GET`` when that route is missing, so these tests check it took the POST.

The module starts its own containerd (root, state and gRPC socket in a short directory under /tmp,
no CRI plugin, nothing under /opt) and stops it by process group at the end. Images unpack with the
``native`` snapshotter, which needs no overlay mount; no container runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.oci.oci_client import OciClient
from tests.oci.registry_auth import registry_credentials
from tests.support import ocilayout as ol
from tests.support.clients import ClientError, Daemon, Tool, private_env, state_dir
from tests.support.clients import containerd as running_containerd
from tests.support.servers import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.requires_tool("containerd", "ctr"),
]

NAMESPACE = "e2e"


@pytest.fixture(scope="module")
def containerd() -> Iterator[Daemon]:
    """This module's containerd daemon."""
    with state_dir("e2e-ctr-") as root, running_containerd(root) as daemon:
        yield daemon


@dataclass(frozen=True)
class Ctr:
    """``ctr`` against this module's containerd and registry, in its own namespace."""

    tool: Tool
    registry: ServerProcess

    def ref(self, name: str) -> str:
        """``<registry>/<name>``."""
        return f"{self.registry.address}/{name}"

    def user(self, password: str | None = None) -> str:
        """``NAME:PASSWORD`` for ``--user`` (the administrator's, or another password)."""
        credentials = registry_credentials(self.registry)
        assert credentials is not None
        return f"{credentials[0]}:{password if password is not None else credentials[1]}"

    def pull(self, name: str, *options: str, password: str | None = None) -> str:
        """``ctr images pull --plain-http --user ...`` unpacking with the native snapshotter."""
        return self.tool(
            "images",
            "pull",
            "--plain-http",
            "--user",
            self.user(password),
            "--snapshotter",
            "native",
            *options,
            self.ref(name),
        )

    def images(self) -> dict[str, str]:
        """Reference -> digest of every image in the namespace."""
        listed = self.tool("images", "ls").splitlines()[1:]
        return {row.split()[0]: row.split()[2] for row in listed if row.strip()}

    def content(self) -> set[str]:
        """The digests of every blob in containerd's content store."""
        return {row.split()[0] for row in self.tool("content", "ls").splitlines()[1:] if row.strip()}


@pytest.fixture(scope="module")
def ctr(containerd: Daemon, sqlite_registry: ServerProcess) -> Iterator[Ctr]:
    """``ctr`` talking to the module's containerd."""
    with state_dir("e2e-ctrh-") as home:
        yield Ctr(
            Tool(("ctr", "--address", str(containerd.socket_path), "--namespace", NAMESPACE), private_env(home)),
            sqlite_registry,
        )


@pytest.fixture(scope="module")
def source_index(sqlite_registry: ServerProcess) -> ol.Index:
    """A two-platform index pushed over HTTP as ``e2e/ctr-source:multi``."""
    children = ol.platform_images([("linux", "amd64", None), ("linux", "arm64", "v8")], layer_count=2)
    index = ol.index(children)
    with OciClient(sqlite_registry) as oci:
        oci.push("e2e/ctr-source", index, tag="multi")
    return index


def token_requests(server: ServerProcess, after: int) -> list[tuple[str, int]]:
    """(method, status) of every ``/service/token`` request in the access log past byte ``after``."""
    found = []
    for line in server.log()[after:].splitlines():
        if line.startswith("{") and '"/service/token"' in line:
            entry = json.loads(line)
            found.append((entry["method"], entry["status"]))
    return found


def _child(index: ol.Index, architecture: str) -> ol.Image:
    for child in index.children:
        if isinstance(child, ol.Image) and child.platform and child.platform["architecture"] == architecture:
            return child
    raise AssertionError(f"no {architecture} image in the index")


def test_ctr_pulls_one_platform_with_a_user_and_password(
    ctr: Ctr, sqlite_registry: ServerProcess, source_index: ol.Index
) -> None:
    mark = len(sqlite_registry.log())
    ctr.pull("e2e/ctr-source:multi", "--platform", "linux/arm64/v8")
    assert set(token_requests(sqlite_registry, mark)) == {("POST", 200)}  # the OAuth2 form, no GET fallback
    assert ctr.images()[ctr.ref("e2e/ctr-source:multi")] == source_index.digest
    arm64, amd64 = _child(source_index, "arm64"), _child(source_index, "amd64")
    held = ctr.content()
    assert {blob.digest for blob in (*arm64.blobs(), *arm64.manifests())} <= held
    assert not {blob.digest for blob in amd64.blobs()} & held  # only the platform asked for


def test_ctr_pushes_with_a_user_and_password(ctr: Ctr, sqlite_registry: ServerProcess, source_index: ol.Index) -> None:
    ctr.pull("e2e/ctr-source:multi", "--all-platforms")
    ctr.tool("images", "tag", "--force", ctr.ref("e2e/ctr-source:multi"), ctr.ref("e2e/ctr-pushed:v1"))
    mark = len(sqlite_registry.log())
    ctr.tool("images", "push", "--plain-http", "--user", ctr.user(), ctr.ref("e2e/ctr-pushed:v1"))
    assert ("POST", 200) in token_requests(sqlite_registry, mark)
    with OciClient(sqlite_registry) as oci:
        for content in (source_index, *source_index.children):
            served = oci.get_manifest("e2e/ctr-pushed", content.digest)
            assert served.status_code == 200 and served.content == content.manifest.data
        tagged = oci.get_manifest("e2e/ctr-pushed", "v1")
        assert tagged.status_code == 200 and ol.digest_of(tagged.content) == source_index.digest
        for blob in source_index.blobs():
            assert oci.http.get(f"/v2/e2e/ctr-pushed/blobs/{blob.digest}").content == blob.data


def test_ctr_with_a_wrong_password_is_refused(ctr: Ctr, source_index: ol.Index) -> None:
    with pytest.raises(ClientError) as refused:
        ctr.pull("e2e/ctr-source:multi", password="not-the-password")
    assert re.search(r"failed to fetch (oauth|anonymous) token: unexpected status: 401", str(refused.value)), str(
        refused.value
    )
