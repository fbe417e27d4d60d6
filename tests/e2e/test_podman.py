"""podman 4.3 and buildah 1.28 (Debian's) against moorage, as a new user would use them: build tiny
images for two platforms with buildah from scratch, log in, push, pull, make and push a
multi-architecture index with ``podman manifest``, pull one platform of it, log out.

Both tools run with a storage root, run root, tmpdir, HOME, registries.conf and auth file of their
own under a short directory in /tmp and the vfs driver, so the machine's container storage is never
read or written. Every digest a client reports is checked against what skopeo reads back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.oci.registry_auth import registry_credentials
from tests.support import ocilayout as ol
from tests.support.clients import ClientError, Tool, private_env, state_dir
from tests.support.servers import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.requires_tool("podman", "buildah", "skopeo"),
]

ARCHITECTURES = ("amd64", "arm64")


@dataclass(frozen=True)
class Containers:
    """podman and buildah sharing one private storage (vfs), one HOME and one auth file."""

    root: Path
    podman: Tool
    buildah: Tool

    @property
    def auth_file(self) -> Path:
        """Where ``login`` stores credentials (``REGISTRY_AUTH_FILE``)."""
        return Path(self.podman.env["REGISTRY_AUTH_FILE"])


def containers(root: Path) -> Containers:
    """podman and buildah whose every path is below ``root`` (kept short: podman refuses a run root
    over 50 characters)."""
    storage, run = root / "storage", root / "runroot"
    env = private_env(root / "home")
    # Anything that opens the default storage (a containers-storage: reference) finds this one too.
    storage_conf = root / "storage.conf"
    storage_conf.write_text(f'[storage]\ndriver = "vfs"\ngraphroot = "{storage}"\nrunroot = "{run}"\n')
    env["CONTAINERS_STORAGE_CONF"] = str(storage_conf)
    common = ("--root", str(storage), "--runroot", str(run), "--storage-driver", "vfs")
    podman = Tool(
        ("podman", *common, "--tmpdir", str(root / "tmp"), "--events-backend", "none", "--cgroup-manager", "cgroupfs"),
        env,
    )
    return Containers(root, podman, Tool(("buildah", *common), env))


@pytest.fixture(scope="module")
def builder() -> Iterator[Containers]:
    """The storage the images are built in (and pushed from)."""
    with state_dir("e2e-pm-") as root:
        yield containers(root)


@pytest.fixture
def puller() -> Iterator[Containers]:
    """A fresh, empty storage for a test to pull into, so what it finds came from the registry."""
    with state_dir("e2e-pl-") as root:
        yield containers(root)


@pytest.fixture(scope="module")
def built(builder: Containers) -> dict[str, str]:
    """One single-file image per architecture, built with buildah from scratch: arch -> local name."""
    names = {}
    for arch in ARCHITECTURES:
        source = builder.root / f"hello-{arch}"
        source.write_text(f"hello from {arch}\n")
        container = builder.buildah("from", "--arch", arch, "scratch").strip()
        builder.buildah("copy", container, str(source), "/hello")
        builder.buildah("config", "--arch", arch, "--os", "linux", "--cmd", "/hello", container)
        names[arch] = f"localhost/e2e-tiny:{arch}"
        builder.buildah("commit", "--quiet", container, names[arch])
        builder.buildah("rm", container)
    assert (builder.root / "storage" / "vfs-images").is_dir()  # the private storage, not the machine's
    return names


def login(tool: Tool, server: ServerProcess) -> None:
    """``<tool> login`` with the administrator's password on standard input."""
    user, password = _credentials(server)
    output = tool(
        "login", "--tls-verify=false", "--username", user, "--password-stdin", server.address, stdin=password + "\n"
    )
    assert "Login Succeeded" in output


def _credentials(server: ServerProcess) -> tuple[str, str]:
    credentials = registry_credentials(server)
    assert credentials is not None
    return credentials


def skopeo(server: ServerProcess, *args: str) -> bytes:
    """``skopeo inspect --raw`` (or any inspect arguments) as the administrator."""
    tool = Tool(("skopeo",), private_env(server.data_dir.parent / "skopeo-home"))
    return tool("inspect", "--tls-verify=false", "--creds", ":".join(_credentials(server)), *args).encode()


def served_manifest(server: ServerProcess, reference: str) -> bytes:
    """The manifest bytes the registry serves for ``<name>:<tag>`` or ``<name>@<digest>``."""
    return skopeo(server, "--raw", f"docker://{server.address}/{reference}")


def served_config(server: ServerProcess, reference: str) -> dict[str, object]:
    """The image configuration the registry serves for a manifest."""
    config: dict[str, object] = json.loads(
        skopeo(server, "--config", "--raw", f"docker://{server.address}/{reference}")
    )
    return config


def _digest_file(path: Path) -> str:
    return path.read_text().strip()


def test_buildah_logs_in_pushes_and_pulls(
    sqlite_registry: ServerProcess, builder: Containers, built: dict[str, str], puller: Containers
) -> None:
    host = sqlite_registry.address
    login(builder.buildah, sqlite_registry)
    assert host in json.loads(builder.auth_file.read_text())["auths"]
    digest_file = builder.root / "buildah-push.digest"
    builder.buildah(
        "push",
        "--quiet",
        "--tls-verify=false",
        "--digestfile",
        str(digest_file),
        built["amd64"],
        f"docker://{host}/e2e/buildah:amd64",
    )
    pushed = _digest_file(digest_file)
    assert ol.digest_of(served_manifest(sqlite_registry, "e2e/buildah:amd64")) == pushed
    assert served_config(sqlite_registry, f"e2e/buildah@{pushed}")["architecture"] == "amd64"

    login(puller.buildah, sqlite_registry)
    puller.buildah("pull", "--quiet", "--tls-verify=false", f"{host}/e2e/buildah:amd64")
    pulled = json.loads(puller.buildah("inspect", "--type", "image", f"{host}/e2e/buildah:amd64"))
    assert pulled["FromImageDigest"] == pushed
    container = puller.buildah("from", "--quiet", f"{host}/e2e/buildah:amd64").strip()
    mounted = Path(puller.buildah("mount", container).strip())
    assert (mounted / "hello").read_text() == "hello from amd64\n"
    puller.buildah("logout", host)
    assert host not in json.loads(puller.auth_file.read_text())["auths"]


@dataclass(frozen=True)
class PushedIndex:
    """What ``podman manifest push`` reported, and the raw index the registry serves for it."""

    digest: str
    raw: bytes

    @property
    def children(self) -> dict[str, str]:
        """Architecture -> child manifest digest."""
        listed = json.loads(self.raw)["manifests"]
        return {item["platform"]["architecture"]: item["digest"] for item in listed}


@pytest.fixture(scope="module")
def podman_index(sqlite_registry: ServerProcess, builder: Containers, built: dict[str, str]) -> PushedIndex:
    """``podman manifest create/add/push --all`` of the built images as ``e2e/podman-multi:v1``."""
    target = f"{sqlite_registry.address}/e2e/podman-multi:v1"
    login(builder.podman, sqlite_registry)
    builder.podman("manifest", "create", target)
    for arch in ARCHITECTURES:
        builder.podman("manifest", "add", target, f"containers-storage:{built[arch]}")
    digest_file = builder.root / "manifest-push.digest"
    builder.podman(
        "manifest",
        "push",
        "--quiet",
        "--all",
        "--tls-verify=false",
        "--digestfile",
        str(digest_file),
        target,
        f"docker://{target}",
    )
    return PushedIndex(_digest_file(digest_file), served_manifest(sqlite_registry, "e2e/podman-multi:v1"))


def test_podman_manifest_pushes_a_multi_architecture_index(
    sqlite_registry: ServerProcess, podman_index: PushedIndex
) -> None:
    assert ol.digest_of(podman_index.raw) == podman_index.digest
    index = json.loads(podman_index.raw)
    assert index["mediaType"] in (ol.OCI_INDEX, ol.DOCKER_MANIFEST_LIST)
    assert sorted(item["platform"]["os"] for item in index["manifests"]) == ["linux", "linux"]
    assert sorted(podman_index.children) == sorted(ARCHITECTURES)
    for arch, digest in podman_index.children.items():
        child = served_manifest(sqlite_registry, f"e2e/podman-multi@{digest}")
        assert ol.digest_of(child) == digest
        assert served_config(sqlite_registry, f"e2e/podman-multi@{digest}")["architecture"] == arch
    # skopeo resolves the tag to the index and picks each platform's image from it.
    for arch in ARCHITECTURES:
        picked = json.loads(
            skopeo(
                sqlite_registry,
                "--override-os",
                "linux",
                "--override-arch",
                arch,
                f"docker://{sqlite_registry.address}/e2e/podman-multi:v1",
            )
        )
        assert (picked["Digest"], picked["Architecture"]) == (podman_index.digest, arch)


def test_podman_pulls_one_platform_of_the_index(
    sqlite_registry: ServerProcess, podman_index: PushedIndex, puller: Containers
) -> None:
    repository = f"{sqlite_registry.address}/e2e/podman-multi"
    login(puller.podman, sqlite_registry)
    for arch, pull_options in (("arm64", ("--platform", "linux/arm64")), ("amd64", ("--arch", "amd64"))):
        puller.podman("pull", "--quiet", "--tls-verify=false", *pull_options, f"{repository}:v1")
        pulled = json.loads(puller.podman("image", "inspect", f"{repository}:v1"))[0]
        assert pulled["Architecture"] == arch
        # podman names the image by the digest it asked for (the index's) and by the image's own.
        assert pulled["Digest"] == podman_index.digest
        assert f"{repository}@{podman_index.children[arch]}" in pulled["RepoDigests"]


def test_podman_push_pull_and_logout(
    sqlite_registry: ServerProcess, builder: Containers, built: dict[str, str], puller: Containers
) -> None:
    host = sqlite_registry.address
    refused = puller.podman.run(
        "login",
        "--tls-verify=false",
        "--username",
        _credentials(sqlite_registry)[0],
        "--password-stdin",
        host,
        stdin="not-the-password\n",
    )
    assert refused.returncode != 0 and "invalid username/password" in refused.stderr, refused.stderr
    assert json.loads(puller.auth_file.read_text())["auths"] == {}

    login(builder.podman, sqlite_registry)
    digest_file = builder.root / "podman-push.digest"
    builder.podman(
        "push",
        "--quiet",
        "--tls-verify=false",
        "--digestfile",
        str(digest_file),
        built["arm64"],
        f"{host}/e2e/podman:arm64",
    )
    pushed = _digest_file(digest_file)
    assert ol.digest_of(served_manifest(sqlite_registry, "e2e/podman:arm64")) == pushed

    login(puller.podman, sqlite_registry)
    assert puller.podman("login", "--get-login", host).strip() == _credentials(sqlite_registry)[0]
    puller.podman("pull", "--quiet", "--tls-verify=false", "--arch", "arm64", f"{host}/e2e/podman@{pushed}")
    pulled = json.loads(puller.podman("image", "inspect", f"{host}/e2e/podman@{pushed}"))[0]
    assert (pulled["Digest"], pulled["Architecture"]) == (pushed, "arm64")

    assert puller.podman("logout", host).strip() == f"Removed login credentials for {host}"
    assert host not in json.loads(puller.auth_file.read_text())["auths"]
    with pytest.raises(ClientError, match=r"(?i)unauthorized|authentication required"):
        puller.podman("pull", "--quiet", "--tls-verify=false", f"{host}/e2e/podman:arm64")
