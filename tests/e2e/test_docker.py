"""The docker CLI and daemon from Debian's ``docker.io`` (20.10) against moorage, as a new user would
use them: ``docker login``, ``push`` of an image loaded with ``docker load``, ``pull``, ``docker
manifest create/push`` of a two-platform list, ``pull --platform`` and ``logout``.

The module starts its own dockerd: no iptables, no bridge, the vfs storage driver (no container
runs, images only move), and data root, exec root, pid file, configuration, key file and socket in a
short directory under /tmp, and a containerd of its own started beside it (the one dockerd would
start itself writes /opt/containerd); the CLI reaches it only through ``DOCKER_HOST`` and keeps its
login in a private ``DOCKER_CONFIG``, so a docker of the machine is neither used nor disturbed. Both
daemons are stopped by process group at the end.

docker 20.10's ``manifest`` command reads Docker schema 2 manifests only (OCI support came in docker
24), so the list is made from images that docker itself pushed.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.oci.oci_client import OciClient
from tests.oci.registry_auth import registry_credentials
from tests.support import ocilayout as ol
from tests.support.clients import ClientError, Daemon, Tool, containerd, private_env, start_daemon, state_dir
from tests.support.servers import ServerProcess

DOCKER = "/usr/bin/docker"  # Debian's CLI, not another docker earlier in PATH
DOCKERD = "/usr/sbin/dockerd"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.requires_tool(DOCKER, DOCKERD, "skopeo"),
]

PLUGIN_DIR = Path("/run/docker")  # dockerd creates /run/docker/plugins whatever its exec root
PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64}) size: \d+")
PLATFORMS = (("linux", "amd64", None), ("linux", "arm64", "v8"))


@pytest.fixture(scope="module")
def dockerd(sqlite_registry: ServerProcess) -> Iterator[Daemon]:
    """This module's docker daemon, which treats the registry as insecure (plain HTTP)."""
    plugin_dir_existed = PLUGIN_DIR.exists()
    with state_dir("e2e-dk-") as root, containerd(root / "ctd") as containerd_daemon:
        config = root / "daemon.json"  # in place of /etc/docker/daemon.json; the key file is
        # /etc/docker/key.json unless the configuration names another (20.10 has no flag for it)
        config.write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
        argv = [
            DOCKERD,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--storage-driver",
            "vfs",
            "--insecure-registry",
            sqlite_registry.address,
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "docker.pid"),
            "--config-file",
            str(config),
            "--containerd",
            str(containerd_daemon.socket_path),
            "-H",
            f"unix://{root / 'd.sock'}",
        ]
        daemon = start_daemon(
            argv,
            socket_path=root / "d.sock",
            log_path=root / "dockerd.log",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        try:
            yield daemon
        finally:
            daemon.stop()
            if not plugin_dir_existed:
                for empty in (PLUGIN_DIR / "plugins", PLUGIN_DIR):
                    with contextlib.suppress(OSError):  # left alone if anything else is in it
                        empty.rmdir()


@dataclass(frozen=True)
class Docker:
    """The docker CLI bound to this module's daemon and registry."""

    cli: Tool
    registry: ServerProcess
    config_dir: Path

    def ref(self, name: str) -> str:
        """``<registry>/<name>``."""
        return f"{self.registry.address}/{name}"

    def login(self, password: str | None = None) -> str:
        """``docker login`` as the administrator, the password on standard input."""
        user, right = _credentials(self.registry)
        return self.cli(
            "login",
            "--username",
            user,
            "--password-stdin",
            self.registry.address,
            stdin=(password if password is not None else right) + "\n",
        )

    def push(self, name: str) -> str:
        """``docker push``; the manifest digest it reports."""
        found = PUSHED.search(self.cli("push", self.ref(name)))
        assert found, f"no digest in the output of docker push {name}"
        return found.group(1)

    def inspect(self, reference: str) -> dict[str, object]:
        """``docker image inspect`` of one image."""
        inspected: dict[str, object] = json.loads(self.cli("image", "inspect", reference))[0]
        return inspected

    def auths(self) -> dict[str, object]:
        """The registries ``config.json`` holds credentials for."""
        config = self.config_dir / "config.json"
        auths: dict[str, object] = json.loads(config.read_text()).get("auths", {}) if config.exists() else {}
        return auths


def _credentials(server: ServerProcess) -> tuple[str, str]:
    credentials = registry_credentials(server)
    assert credentials is not None
    return credentials


@pytest.fixture(scope="module")
def docker(dockerd: Daemon, sqlite_registry: ServerProcess) -> Iterator[Docker]:
    """The CLI with a private HOME and ``DOCKER_CONFIG``, talking to this module's daemon only."""
    with state_dir("e2e-dkh-") as home:
        config_dir = home / ".docker"
        env = private_env(
            home,
            DOCKER_HOST=f"unix://{dockerd.socket_path}",
            DOCKER_CONFIG=str(config_dir),
            DOCKER_CLI_EXPERIMENTAL="enabled",
        )
        yield Docker(Tool((DOCKER,), env), sqlite_registry, config_dir)


@pytest.fixture(scope="module")
def loaded(docker: Docker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One tiny image per platform, made into docker-archive tarballs by skopeo and ``docker load``ed:
    architecture -> local name."""
    work = tmp_path_factory.mktemp("docker-archives")
    images = ol.platform_images(PLATFORMS, layer_count=1)
    layout = ol.write_layout(
        work / "layout", {image.platform["architecture"]: image for image in images if image.platform}
    )
    skopeo = Tool(("skopeo", "--insecure-policy"), private_env(work / "home"))
    names = {}
    for _, arch, _ in PLATFORMS:
        archive = work / f"{arch}.tar"
        names[arch] = f"e2e/loaded:{arch}"
        skopeo("copy", "--quiet", f"oci:{layout}:{arch}", f"docker-archive:{archive}:{names[arch]}")
        assert f"Loaded image: {names[arch]}" in docker.cli("load", "--input", str(archive))
    return names


def test_docker_login_push_and_pull(docker: Docker, loaded: dict[str, str]) -> None:
    with pytest.raises(ClientError, match=r"(?i)unauthorized"):
        docker.login("not-the-password")
    assert docker.registry.address not in docker.auths()
    assert "Login Succeeded" in docker.login()
    assert docker.registry.address in docker.auths()

    docker.cli("tag", loaded["amd64"], docker.ref("e2e/docker-app:v1"))
    digest = docker.push("e2e/docker-app:v1")
    with OciClient(docker.registry) as oci:
        served = oci.get_manifest("e2e/docker-app", "v1")
    assert served.status_code == 200 and ol.digest_of(served.content) == digest
    assert served.headers["content-type"] == ol.DOCKER_MANIFEST == json.loads(served.content)["mediaType"]

    docker.cli("image", "rm", docker.ref("e2e/docker-app:v1"))
    docker.cli("pull", "--quiet", docker.ref("e2e/docker-app:v1"))
    assert docker.inspect(docker.ref("e2e/docker-app:v1"))["RepoDigests"] == [docker.ref(f"e2e/docker-app@{digest}")]
    docker.cli("pull", "--quiet", docker.ref(f"e2e/docker-app@{digest}"))


@pytest.fixture(scope="module")
def docker_list(docker: Docker, loaded: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Both images pushed by docker to ``e2e/docker-src``, then ``docker manifest create`` and
    ``push`` of a list of them as ``e2e/docker-list:v1`` (another repository, so docker mounts the
    blobs and copies the manifests across): the list digest and architecture -> image digest."""
    docker.login()
    children = {}
    for arch, name in loaded.items():
        docker.cli("tag", name, docker.ref(f"e2e/docker-src:{arch}"))
        children[arch] = docker.push(f"e2e/docker-src:{arch}")
    docker.cli(
        "manifest",
        "create",
        "--insecure",
        docker.ref("e2e/docker-list:v1"),
        *(docker.ref(f"e2e/docker-src@{digest}") for digest in children.values()),
    )
    pushed = docker.cli("manifest", "push", "--insecure", "--purge", docker.ref("e2e/docker-list:v1")).split()
    assert pushed and pushed[-1].startswith("sha256:")
    return pushed[-1], children


def test_docker_manifest_create_and_push_a_two_platform_list(
    docker: Docker, docker_list: tuple[str, dict[str, str]]
) -> None:
    digest, children = docker_list
    with OciClient(docker.registry) as oci:
        served = oci.get_manifest("e2e/docker-list", "v1")
        assert served.status_code == 200 and ol.digest_of(served.content) == digest
        document = json.loads(served.content)
        assert served.headers["content-type"] == ol.DOCKER_MANIFEST_LIST == document["mediaType"]
        listed = {item["platform"]["architecture"]: item for item in document["manifests"]}
        assert {arch: item["digest"] for arch, item in listed.items()} == children
        assert listed["arm64"]["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
        for child in children.values():
            copied = oci.get_manifest("e2e/docker-list", child)
            assert copied.status_code == 200 and ol.digest_of(copied.content) == child
            for blob in json.loads(copied.content)["layers"]:
                assert oci.http.head(f"/v2/e2e/docker-list/blobs/{blob['digest']}").status_code == 200


def test_docker_pull_platform(docker: Docker, docker_list: tuple[str, dict[str, str]]) -> None:
    digest, children = docker_list
    reference = docker.ref("e2e/docker-list:v1")
    for os_name, arch, variant in PLATFORMS:
        docker.cli("image", "prune", "--all", "--force")  # so the image comes from the registry
        platform = "/".join(part for part in (os_name, arch, variant) if part)
        output = docker.cli("pull", "--platform", platform, reference)
        assert f"Digest: {digest}" in output and "Downloaded newer image" in output, output
        pulled = docker.inspect(reference)
        assert (pulled["Os"], pulled["Architecture"], pulled.get("Variant")) == (os_name, arch, variant)
        assert pulled["RepoDigests"] == [docker.ref(f"e2e/docker-list@{digest}")]
        assert children[arch] != digest


def test_docker_pulls_one_platform_of_an_oci_index(docker: Docker) -> None:
    """What podman, buildah or BuildKit push (OCI media types) docker pulls too."""
    children = ol.platform_images(PLATFORMS, layer_count=1)
    index = ol.index(children)
    with OciClient(docker.registry) as oci:
        oci.push("e2e/docker-oci", index, tag="v1")
    docker.login()
    docker.cli("image", "prune", "--all", "--force")
    reference = docker.ref("e2e/docker-oci:v1")
    output = docker.cli("pull", "--platform", "linux/arm64/v8", reference)
    assert f"Digest: {index.digest}" in output, output
    pulled = docker.inspect(reference)
    assert (pulled["Architecture"], pulled.get("Variant")) == ("arm64", "v8")
    arm64 = next(child for child in children if child.platform and child.platform["architecture"] == "arm64")
    assert pulled["Id"] == arm64.config.digest  # the image docker stored is the arm64 config, byte for byte


def test_docker_logout(docker: Docker, docker_list: tuple[str, dict[str, str]]) -> None:
    docker.login()
    output = docker.cli("logout", docker.registry.address)
    assert f"Removing login credentials for {docker.registry.address}" in output
    assert docker.registry.address not in docker.auths()
    with pytest.raises(ClientError, match=r"(?i)unauthorized|no basic auth credentials"):
        docker.cli("pull", "--quiet", docker.ref("e2e/docker-list:v1"))
