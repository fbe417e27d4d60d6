"""skopeo (Debian's) copies OCI layouts built by the test into the registry and back out, and the
digests of every manifest and blob stay the same all the way."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SessionCache
from tests.oci.oci_client import OciClient
from tests.oci.registry_auth import registry_credentials
from tests.support import ocilayout as ol
from tests.support.seaweedfs import SeaweedFS, start_moorage_on_s3
from tests.support.servers import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.requires_tool("skopeo"),
]


@dataclass(frozen=True)
class Skopeo:
    """skopeo bound to one registry: plain HTTP, its credentials, a policy that accepts anything."""

    env: dict[str, str]
    registry: ServerProcess

    def run(self, *args: str) -> bytes:
        """Run skopeo; fail with its output when it fails."""
        completed = subprocess.run(
            ["skopeo", "--insecure-policy", *args], env=self.env, capture_output=True, timeout=180, check=False
        )
        assert completed.returncode == 0, f"skopeo {' '.join(args)}:\n{completed.stderr.decode()}"
        return completed.stdout

    def ref(self, name: str) -> str:
        """``docker://<registry>/<name>``."""
        return f"docker://{self.registry.address}/{name}"

    def creds(self, flag: str) -> list[str]:
        """``--<flag> user:password`` when the registry asks for credentials, else nothing."""
        credentials = registry_credentials(self.registry)
        return [f"--{flag}", ":".join(credentials)] if credentials else []

    def copy_in(self, layout: Path, tag: str, name: str, *extra: str) -> None:
        """``oci:<layout>:<tag>`` -> the registry, digests preserved."""
        self.run(
            "copy",
            "--dest-tls-verify=false",
            *self.creds("dest-creds"),
            "--preserve-digests",
            *extra,
            f"oci:{layout}:{tag}",
            self.ref(name),
        )

    def copy_out(self, name: str, layout: Path, tag: str, *extra: str) -> None:
        """The registry -> ``oci:<layout>:<tag>``, digests preserved."""
        self.run(
            "copy",
            "--src-tls-verify=false",
            *self.creds("src-creds"),
            "--preserve-digests",
            *extra,
            self.ref(name),
            f"oci:{layout}:{tag}",
        )

    def copy_across(self, source: str, destination: str, *extra: str) -> None:
        """Registry to registry (same server), digests preserved."""
        self.run(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            *self.creds("src-creds"),
            *self.creds("dest-creds"),
            "--preserve-digests",
            *extra,
            self.ref(source),
            self.ref(destination),
        )

    def raw(self, name: str) -> bytes:
        """The manifest bytes as the registry serves them (``inspect --raw``)."""
        return self.run("inspect", "--raw", "--tls-verify=false", *self.creds("creds"), self.ref(name))


@pytest.fixture
def skopeo(registry: ServerProcess, client_env: dict[str, str]) -> Skopeo:
    """skopeo against this module's registry."""
    return Skopeo(client_env, registry)


def _assert_layout_holds(layout: Path, tag: str, content: ol.Content) -> None:
    copied = ol.read_layout(layout)
    assert copied.ref(tag)["digest"] == content.digest
    reachable = copied.reachable(content.digest)
    expected = {blob.digest for blob in (*content.blobs(), *content.manifests())}
    assert reachable == expected
    for blob in (*content.blobs(), *content.manifests()):
        assert copied.blobs[blob.digest] == blob.data, blob.digest


def _assert_registry_serves(server: ServerProcess, repo: str, content: ol.Content) -> None:
    with OciClient(server) as oci:
        for blob in content.blobs():
            response = oci.http.get(f"/v2/{repo}/blobs/{blob.digest}")
            assert response.status_code == 200
            assert ol.digest_of(response.content) == blob.digest


def test_multi_layer_image_round_trips_with_identical_digests(
    registry: ServerProcess, skopeo: Skopeo, tmp_path: Path
) -> None:
    layers = [
        ol.layer({"etc/os-release": b"ID=moorage-test\n", "usr/bin/tool": ol.File(b"#!/bin/sh\necho hi\n", 0o755)}),
        ol.layer({"var/lib/data.bin": bytes(range(256)) * 64, "usr/bin/link": ol.Symlink("tool")}, compression="zstd"),
        ol.layer({"usr/share/doc/readme": b"plain layer\n"}, compression="none"),
    ]
    image = ol.image(layers, container_config={"Env": ["PATH=/usr/bin"], "Cmd": ["/usr/bin/tool"]})
    source = ol.write_layout(tmp_path / "source", {"v1": image})
    skopeo.copy_in(source, "v1", "e2e/multi-layer:v1")

    raw = skopeo.raw("e2e/multi-layer:v1")
    assert raw == image.manifest.data
    assert ol.digest_of(raw) == image.digest
    _assert_registry_serves(registry, "e2e/multi-layer", image)

    skopeo.copy_out("e2e/multi-layer:v1", tmp_path / "back", "v1")
    _assert_layout_holds(tmp_path / "back", "v1", image)


def test_multi_arch_index_round_trips_with_all(registry: ServerProcess, skopeo: Skopeo, tmp_path: Path) -> None:
    platforms = [("linux", "amd64", None), ("linux", "arm64", "v8"), ("linux", "arm", "v7")]
    children = ol.platform_images(platforms, layer_count=2)
    idx = ol.index(children, annotations={"org.opencontainers.image.title": "multi-arch"})
    source = ol.write_layout(tmp_path / "source", {"multi": idx})
    skopeo.copy_in(source, "multi", "e2e/multi-arch:multi", "--all")

    assert skopeo.raw("e2e/multi-arch:multi") == idx.manifest.data
    for child in children:
        assert skopeo.raw(f"e2e/multi-arch@{child.digest}") == child.manifest.data
    _assert_registry_serves(registry, "e2e/multi-arch", idx)

    skopeo.copy_out("e2e/multi-arch:multi", tmp_path / "back", "multi", "--all")
    _assert_layout_holds(tmp_path / "back", "multi", idx)


def test_copy_between_repositories_and_list_tags(registry: ServerProcess, skopeo: Skopeo, tmp_path: Path) -> None:
    image = ol.image([{"mount/me.txt": b"shared layer"}, {"second.txt": b"second"}])
    source = ol.write_layout(tmp_path / "source", {"v1": image})
    skopeo.copy_in(source, "v1", "e2e/origin:v1")
    skopeo.copy_across("e2e/origin:v1", "e2e/copy/nested:v2")
    assert skopeo.raw("e2e/copy/nested:v2") == image.manifest.data
    _assert_registry_serves(registry, "e2e/copy/nested", image)
    listed = json.loads(
        skopeo.run("list-tags", "--tls-verify=false", *skopeo.creds("creds"), skopeo.ref("e2e/copy/nested"))
    )
    assert listed["Tags"] == ["v2"]


def test_docker_manifest_list_copies_between_repositories(registry: ServerProcess, skopeo: Skopeo) -> None:
    children = ol.platform_images([("linux", "amd64", None), ("linux", "arm64", None)], flavour="docker")
    manifest_list = ol.index(children, flavour="docker")
    with OciClient(registry) as oci:  # skopeo's oci: transport reads OCI media types only
        oci.push("e2e/docker-list", manifest_list, tag="docker")
    skopeo.copy_across("e2e/docker-list:docker", "e2e/docker-list-copy:docker", "--all")
    assert skopeo.raw("e2e/docker-list-copy:docker") == manifest_list.manifest.data
    for child in children:
        assert skopeo.raw(f"e2e/docker-list-copy@{child.digest}") == child.manifest.data
    _assert_registry_serves(registry, "e2e/docker-list-copy", manifest_list)


def test_delete_by_digest(registry: ServerProcess, skopeo: Skopeo, tmp_path: Path) -> None:
    image = ol.image([{"delete/me.txt": b"bye"}])
    source = ol.write_layout(tmp_path / "source", {"gone": image})
    skopeo.copy_in(source, "gone", "e2e/delete:gone")
    skopeo.run("delete", "--tls-verify=false", *skopeo.creds("creds"), skopeo.ref(f"e2e/delete@{image.digest}"))
    with OciClient(registry) as oci:
        assert oci.get_manifest("e2e/delete", image.digest).status_code == 404


def test_an_image_round_trips_through_s3_storage_with_redirects(
    s3_server: SeaweedFS,
    session_cache: SessionCache,
    tmp_path_factory: pytest.TempPathFactory,
    client_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """moorage with its blobs in SeaweedFS, redirecting blob GETs to presigned URLs: skopeo pushes a
    layer of three 5 MiB parts and more (a multipart upload), pulls it back through the object store
    (following the 307s), and every digest holds."""
    registry = session_cache.get(
        "e2e-s3-redirecting-moorage",
        lambda: start_moorage_on_s3(
            tmp_path_factory.mktemp("e2e-s3"),
            s3_server,
            STORAGE__S3_REDIRECT="true",
            STORAGE__S3_PART_SIZE=str(5 << 20),
            ACCESS_LOG="true",
        ),
        close=ServerProcess.stop,
    )
    skopeo = Skopeo(client_env, registry)
    big = ol.layer({"var/lib/blob.bin": os.urandom(17 << 20)}, compression="none")
    image = ol.image([big, ol.layer({"etc/motd": b"on s3\n"})])
    source = ol.write_layout(tmp_path / "source", {"v1": image})
    skopeo.copy_in(source, "v1", "e2e/on-s3:v1")
    assert skopeo.raw("e2e/on-s3:v1") == image.manifest.data
    skopeo.copy_out("e2e/on-s3:v1", tmp_path / "back", "v1")
    _assert_layout_holds(tmp_path / "back", "v1", image)
    gets = [
        entry["status"]
        for entry in map(
            json.loads,
            (line for line in registry.log().splitlines() if line.startswith("{") and '"method":"GET"' in line),
        )
        if entry["path"].endswith(f"/blobs/{big.blob.digest}")
    ]
    assert gets == [307]  # the layer came from the object store, not through moorage
