"""The artifact copy engine with real parts: moorage in this process (a local endpoint: its services,
its database, its blob store) and Debian's docker-registry on loopback (a remote endpoint over HTTP,
through the egress policy with loopback allowed by the setting that exists for it), checked with
skopeo. A multi-architecture index with a cosign signature tag and an SBOM referrer goes both ways
with its digests unchanged; a second copy sends nothing; a copy inside one registry mounts; a tag
is not overwritten without ``override``; a blob whose bytes do not match is refused; a bandwidth
limit slows a copy down."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.queries import blobs as blob_queries
from moorage.metadata.queries import repositories as repo_queries
from moorage.services.replication import (
    BlobOutcome,
    CopyOptions,
    CopyReport,
    LocalEndpoint,
    LocalRegistry,
    RemoteEndpoint,
    TokenBucket,
    copy_artifact,
    delete_artifact,
    list_repositories,
    list_tags,
    remote_endpoint,
)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support import skopeo
from tests.support.inprocess import InProcessMoorage, running, settings_for
from tests.support.servers import ServerProcess, start_reference_registry
from tests.support.swr_images import Image, image, index, push

T = TypeVar("T")
LOOPBACK = {"allow_networks": "127.0.0.0/8"}
COSIGN_SIGNATURE = "application/vnd.dev.cosign.simplesigning.v1+json"
SPDX = "application/spdx+json"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Debian's docker-registry (CNCF distribution 2.8) for the module, stopped by its pid."""
    server = start_reference_registry(tmp_path_factory.mktemp("reference") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite: Path) -> Iterator[InProcessMoorage]:
    """moorage in this process for the module (each test uses names of its own), loopback allowed."""
    directory = tmp_path_factory.mktemp("local")
    for name in ("moorage.db", "master.key"):
        shutil.copy2(_migrated_sqlite / name, directory / name)
    with running(settings_for(directory, egress=LOOPBACK)) as moorage:
        yield moorage


def _run(moorage: InProcessMoorage, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on the application's event loop (its database and store live there)."""
    portal = moorage.http.portal  # type: ignore[attr-defined]
    result: T = portal.call(work)
    return result


def _local(moorage: InProcessMoorage, *, owner_of: str | None = None) -> LocalEndpoint:
    """The in-process moorage's default instance; namespaces a copy creates belong to the account
    owning ``owner_of`` (a repository the administrator pushed)."""
    s = moorage.services
    domain_id = None
    if owner_of is not None:
        name = RepositoryName.parse(owner_of)
        found = s.db.run_read(lambda conn: repo_queries.get(conn, DEFAULT_INSTANCE, name))
        domain_id = found.domain_id if found else None
    return LocalEndpoint(
        LocalRegistry(s.db, s.store, s.uploads, s.blobs, s.manifests), DEFAULT_INSTANCE, domain_id=domain_id
    )


def _remote(moorage: InProcessMoorage, server: ServerProcess) -> RemoteEndpoint:
    return remote_endpoint(server.base_url, settings=moorage.settings)


def _copy(
    moorage: InProcessMoorage,
    source: Any,
    sink: Any,
    source_repository: str,
    reference: str,
    destination: str,
    options: CopyOptions | None = None,
) -> CopyReport:
    async def work() -> CopyReport:
        try:
            return await copy_artifact(source, sink, source_repository, reference, destination, options)
        finally:
            for end in (source, sink):
                if isinstance(end, RemoteEndpoint):
                    await end.client.aclose()

    return _run(moorage, work)


def _admin(moorage: InProcessMoorage) -> httpx.Client:
    return moorage.client(auth=(ADMIN_USER, ADMIN_PASSWORD))


def _signed_index(label: str) -> tuple[Image, Image, Image, list[Image]]:
    """A two-platform index, a cosign-style signature (a tag ``sha256-<hex>.sig``, no subject) and an
    SBOM referrer (subject: the index)."""
    children = [image([{f"{label}/{arch}": arch.encode() * 50}], label=f"{label}-{arch}") for arch in ("a", "b")]
    top = index(children)
    signature = image([{"sig": f"signature of {top.digest}".encode()}], label=f"{label}-sig")
    signature = Image(
        signature.manifest.replace(b"application/vnd.oci.image.layer.v1.tar+gzip", COSIGN_SIGNATURE.encode()),
        signature.media_type,
        signature.blobs,
        signature.config,
    )
    sbom = image([{"sbom.json": b'{"spdxVersion":"SPDX-2.3"}'}], label=f"{label}-sbom", subject=top, artifact_type=SPDX)
    return top, signature, sbom, children


def _push_signed(moorage: InProcessMoorage, name: str, label: str) -> tuple[Image, Image, Image, list[Image]]:
    top, signature, sbom, children = _signed_index(label)
    with _admin(moorage) as client:
        for child in children:
            push(client, name, child.digest, child)
        push(client, name, "1.0", top)
        push(client, name, "sha256-" + top.digest.split(":")[1] + ".sig", signature)
        push(client, name, sbom.digest, sbom)
    return top, signature, sbom, children


def _push_reference(server: ServerProcess, name: str, reference: str, img: Image) -> None:
    """Push to docker-registry the two-request way (it takes no single-POST upload)."""
    with httpx.Client(base_url=server.base_url) as client:
        for blob in img.blobs:
            opened = client.post(f"/v2/{name}/blobs/uploads/")
            assert opened.status_code == 202, opened.text
            url = httpx.URL(opened.headers["Location"]).copy_merge_params({"digest": blob.digest})
            done = client.put(url, content=blob.data)
            assert done.status_code == 201, done.text
        answer = client.put(
            f"/v2/{name}/manifests/{reference}", content=img.manifest, headers={"Content-Type": img.media_type}
        )
        assert answer.status_code == 201, answer.text


def _served(server: ServerProcess, name: str, reference: str) -> tuple[str, bytes]:
    """(Docker-Content-Digest, bytes) of a manifest at the reference registry."""
    answer = httpx.get(
        f"{server.base_url}/v2/{name}/manifests/{reference}",
        headers={"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"},
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["Docker-Content-Digest"], answer.content


def test_signed_index_to_docker_registry_and_back(local: InProcessMoorage, reference: ServerProcess) -> None:
    name, mirror = f"team/app{uuid.uuid4().hex[:6]}", f"mirror/app{uuid.uuid4().hex[:6]}"
    top, signature, sbom, children = _push_signed(local, name, "one")
    sig_tag = "sha256-" + top.digest.split(":")[1] + ".sig"

    report = _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror)
    assert report.digest == top.digest and not report.skipped
    # children before their index, the index before its referrers
    assert report.manifests.index(top.digest) > max(report.manifests.index(c.digest) for c in children)
    assert report.manifests.index(top.digest) < report.manifests.index(sbom.digest)
    assert set(report.referrers) == {signature.digest, sbom.digest}
    assert all(b.outcome is BlobOutcome.SENT for b in report.blobs)
    assert report.bytes_sent == sum(b.size for b in report.blobs) > 0
    assert {b.digest for b in report.blobs} == {b.digest for i in (*children, signature, sbom) for b in i.blobs}

    # skopeo reads the same digests at the destination: the index, each platform, the signature tag
    inspected = skopeo.inspect_raw(f"{reference.address}/{mirror}:1.0")
    assert len(inspected["manifests"]) == 2
    assert _served(reference, mirror, "1.0") == (top.digest, top.manifest)
    for child in inspected["manifests"]:
        assert _served(reference, mirror, child["digest"])[0] == child["digest"]
    assert _served(reference, mirror, sig_tag) == (signature.digest, signature.manifest)
    assert _served(reference, mirror, sbom.digest)[0] == sbom.digest
    # docker-registry 2.8 serves no referrers API: the tag-schema index names the SBOM
    fallback = skopeo.inspect_raw(f"{reference.address}/{mirror}:sha256-{top.digest.split(':')[1]}")
    assert [m["digest"] for m in fallback["manifests"]] == [sbom.digest]

    # again: every manifest is there, not one blob byte is sent
    again = _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror)
    assert again.bytes_sent == 0 and again.manifests == () and top.digest in again.manifests_present

    # and back into moorage: the referrers come from the tag-schema index
    back = f"back/app{uuid.uuid4().hex[:6]}"
    returned = _copy(local, _remote(local, reference), _local(local, owner_of=name), mirror, "1.0", back)
    assert returned.digest == top.digest
    assert set(returned.referrers) == {signature.digest, sbom.digest}

    async def referrers() -> list[str]:
        found = await _local(local).referrers(back, Digest.parse(top.digest))
        return [str(d.digest) for d in found or []]

    assert _run(local, referrers) == [sbom.digest]
    with _admin(local) as client:
        answer = client.get(f"/v2/{back}/manifests/1.0", headers={"Accept": top.media_type})
        assert answer.status_code == 200, answer.text
        assert answer.headers["Docker-Content-Digest"] == top.digest and answer.content == top.manifest
        assert client.get(f"/v2/{back}/manifests/{sig_tag}").headers["Docker-Content-Digest"] == signature.digest


def test_mount_within_one_registry(local: InProcessMoorage, reference: ServerProcess) -> None:
    name = f"team/mount{uuid.uuid4().hex[:6]}"
    _push_signed(local, name, "mount")
    # local -> local (the same instance): every blob is linked, none copied
    other = f"other/mount{uuid.uuid4().hex[:6]}"
    report = _copy(local, _local(local), _local(local), name, "1.0", other, CopyOptions(include_referrers=False))
    assert report.blobs and {b.outcome for b in report.blobs} == {BlobOutcome.MOUNTED}
    assert report.bytes_sent == 0
    # remote -> the same remote registry: POST ?mount=&from=
    first = f"mirror/mount{uuid.uuid4().hex[:6]}"
    _copy(local, _local(local), _remote(local, reference), name, "1.0", first, CopyOptions(include_referrers=False))
    second = f"again/mount{uuid.uuid4().hex[:6]}"
    remote = _remote(local, reference)
    report = _copy(local, remote, remote, first, "1.0", second, CopyOptions(include_referrers=False))
    assert report.blobs and {b.outcome for b in report.blobs} == {BlobOutcome.MOUNTED}
    assert _served(reference, second, "1.0")[0] == report.digest


def test_override_false_leaves_a_differing_tag(local: InProcessMoorage, reference: ServerProcess) -> None:
    name, mirror = f"team/ovr{uuid.uuid4().hex[:6]}", f"mirror/ovr{uuid.uuid4().hex[:6]}"
    old = image([{"v": b"old"}], label="old")
    new = image([{"v": b"new"}], label="new")
    with _admin(local) as client:
        push(client, name, "old", old)
        push(client, name, "1.0", new)
    _push_reference(reference, mirror, "1.0", old)
    skipped = _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror)
    assert skipped.skipped and skipped.destination_digest == old.digest and skipped.bytes_sent == 0
    assert _served(reference, mirror, "1.0")[0] == old.digest
    replaced = _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror, CopyOptions(override=True))
    assert not replaced.skipped and _served(reference, mirror, "1.0")[0] == new.digest
    # the same tag and digest at the sink is no conflict, override or not
    same = _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror)
    assert not same.skipped and same.bytes_sent == 0


def test_blob_not_matching_its_digest_is_refused(local: InProcessMoorage, reference: ServerProcess) -> None:
    mirror, back = f"mirror/bad{uuid.uuid4().hex[:6]}", f"back/bad{uuid.uuid4().hex[:6]}"
    bad = image([{"payload": os.urandom(4096)}], label=f"bad-{uuid.uuid4().hex}")
    _push_reference(reference, mirror, "1.0", bad)
    layer = bad.blobs[-1]
    stored = reference.data_dir / "docker/registry/v2/blobs/sha256" / layer.digest[7:9] / layer.digest[7:] / "data"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    stored.write_bytes(bytes(data))
    with pytest.raises(DigestInvalid):
        _copy(local, _remote(local, reference), _local(local), mirror, "1.0", back)
    # nothing of the bad blob is recorded or stored, and no manifest names it
    db = local.services.db
    assert db.run_read(lambda conn: blob_queries.size(conn, layer.digest)) is None
    assert _run(local, lambda: local.services.store.stat(Digest.parse(layer.digest))) is None
    assert _run(local, lambda: _local(local).manifest_digest(back, "1.0")) is None


def test_bandwidth_limit_and_chunks(local: InProcessMoorage, reference: ServerProcess) -> None:
    name = f"team/bw{uuid.uuid4().hex[:6]}"
    big = image([{"noise": os.urandom(400 << 10)}], label=f"bw-{uuid.uuid4().hex}")  # incompressible
    with _admin(local) as client:
        push(client, name, "1.0", big)
    size = sum(len(b.data) for b in big.blobs)
    started = time.monotonic()
    free = _copy(local, _local(local), _remote(local, reference), name, "1.0", f"free/bw{uuid.uuid4().hex[:6]}")
    unlimited = time.monotonic() - started
    limit = 200 << 10
    started = time.monotonic()
    limited_report = _copy(
        local,
        _local(local),
        _remote(local, reference),
        name,
        "1.0",
        f"slow/bw{uuid.uuid4().hex[:6]}",
        CopyOptions(bandwidth_limit=limit, copy_by_chunk=True, chunk_size=64 << 10),
    )
    limited = time.monotonic() - started
    assert free.bytes_sent == limited_report.bytes_sent == size
    assert limited >= size / limit * 0.95, (limited, size / limit)
    assert limited > unlimited + 1.0, (limited, unlimited)
    assert limited_report.digest == big.digest
    assert _served(reference, limited_report.destination_repository, "1.0")[0] == big.digest


def test_token_bucket_rate() -> None:
    import asyncio

    async def spend() -> float:
        bucket = TokenBucket(1000)
        started = time.monotonic()
        for _ in range(5):
            await bucket.take(100)
        return time.monotonic() - started

    assert 0.45 <= asyncio.run(spend()) < 1.5


def test_listings_and_delete(local: InProcessMoorage, reference: ServerProcess) -> None:
    name, mirror = f"team/del{uuid.uuid4().hex[:6]}", f"mirror/del{uuid.uuid4().hex[:6]}"
    one = image([{"d": b"delete me"}], label=f"del-{uuid.uuid4().hex}")
    with _admin(local) as client:
        push(client, name, "1.0", one)
        push(client, name, "2.0", one)
    _copy(local, _local(local), _remote(local, reference), name, "1.0", mirror)

    async def work() -> tuple[list[str], list[str], list[str], bool, bool, bool]:
        source, remote = _local(local), _remote(local, reference)
        try:
            return (
                await list_repositories(source),
                await list_tags(source, name),
                await list_tags(remote, mirror),
                await delete_artifact(remote, mirror, one.digest),
                await delete_artifact(remote, mirror, one.digest),
                await delete_artifact(source, name, "2.0"),
            )
        finally:
            await remote.client.aclose()

    repositories, tags, remote_tags, deleted, again, untagged = _run(local, work)
    assert name in repositories and tags == ["1.0", "2.0"] and remote_tags == ["1.0"]
    assert deleted and not again and untagged
    assert httpx.get(f"{reference.base_url}/v2/{mirror}/manifests/1.0").status_code == 404


def test_egress_policy_applies(app_moorage_factory: AppFactory, reference: ServerProcess) -> None:
    """Without loopback allowed, a copy to a registry on 127.0.0.1 is refused before any byte goes."""
    from moorage.clients.errors import EgressDenied

    moorage = app_moorage_factory()
    name = f"team/egr{uuid.uuid4().hex[:6]}"
    with _admin(moorage) as client:
        push(client, name, "1.0", image([{"e": b"x"}], label="egress"))
    with pytest.raises(EgressDenied):
        _copy(moorage, _local(moorage), _remote(moorage, reference), name, "1.0", "mirror/egress")


def test_a_large_blob_streams(local: InProcessMoorage, reference: ServerProcess) -> None:
    """A 24 MiB layer each way: the copy's Python allocations stay bounded (the blob is never held
    whole), measured with tracemalloc around the copy alone. Measured: 2.3 MiB to docker-registry,
    11.0 MiB into moorage (the blob store writes in 4 MiB batches, one filling while one is written);
    with a 64 MiB layer 2.9 and 11.0 MiB: flat, not proportional to the blob."""
    import json
    import tracemalloc

    from tests.support.swr_images import OCI_CONFIG, OCI_LAYER, Blob

    layer = Blob(OCI_LAYER, os.urandom(24 << 20))
    config = Blob(OCI_CONFIG, json.dumps({"architecture": "amd64", "os": "linux", "n": uuid.uuid4().hex}).encode())
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        }
    ).encode()
    big = Image(manifest, "application/vnd.oci.image.manifest.v1+json", (config, layer), config)
    name, mirror, back = (f"{p}/big{uuid.uuid4().hex[:6]}" for p in ("team", "mirror", "back"))
    with _admin(local) as client:
        push(client, name, "1.0", big)
    peaks = []
    for source, sink, from_repo, to_repo in (
        (_local(local), _remote(local, reference), name, mirror),
        (_remote(local, reference), _local(local, owner_of=name), mirror, back),
    ):
        tracemalloc.start()
        try:
            report = _copy(local, source, sink, from_repo, "1.0", to_repo, CopyOptions(include_referrers=False))
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert report.bytes_sent == len(layer.data) + len(config.data)
    assert max(peaks) < 16 << 20, peaks
    assert _run(local, lambda: _local(local).manifest_digest(back, "1.0")) == big.digest
