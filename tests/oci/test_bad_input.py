"""Bad input and bad luck over HTTP (issue 2): truncated uploads, 16 clients racing on one blob
and tag, and a server killed with SIGKILL in the middle of a push."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.oci.oci_client import OciClient, open_truncated, send_truncated, unique_repo, with_query
from tests.support import ocilayout as ol
from tests.support.registry_target import RegistryBackend
from tests.support.servers import ServerProcess

CLIENTS = 16


def _copies_on_disk(root: Path, data: bytes) -> list[Path]:
    """Every file under ``root`` holding exactly ``data`` (how many times a blob is stored)."""
    wanted = hashlib.sha256(data).digest()
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and path.stat().st_size == len(data)
        and hashlib.sha256(path.read_bytes()).digest() == wanted
    ]


def _answered_early(sock: socket.socket) -> bytes:
    """What the server already answered on a half-sent request (it should still be reading)."""
    sock.setblocking(False)
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return b""
    finally:
        sock.setblocking(True)


def _relative(location: str) -> str:
    """Path and query of a location, so it survives the server moving to another port."""
    return httpx.URL(location).raw_path.decode()


# --- truncated uploads ----------------------------------------------------------------------


def test_truncated_monolithic_put_leaves_no_blob(oci: OciClient, repo: str) -> None:
    data = os.urandom(256 * 1024)
    location = oci.start_upload(repo)
    target = with_query(location, digest=ol.digest_of(data))
    send_truncated(oci.server, "PUT", target, data[:100_000], len(data), oci.auth_headers(repo))
    assert not oci.blob_exists(repo, ol.digest_of(data))
    assert oci.push_blob(repo, data) == ol.digest_of(data)  # the server is not wedged by it
    assert oci.http.get(f"/v2/{repo}/blobs/{ol.digest_of(data)}").content == data


def test_truncated_chunk_cannot_complete_the_blob(oci: OciClient, repo: str) -> None:
    data = os.urandom(200_000)
    location = oci.start_upload(repo)
    first = oci.http.patch(location, content=data[:50_000], headers={"Content-Range": "0-49999"})
    assert first.status_code == 202
    location = oci.absolute(first.headers["Location"])
    send_truncated(
        oci.server,
        "PATCH",
        location,
        data[50_000:120_000],
        150_000,
        headers={"Content-Range": f"50000-{len(data) - 1}", **oci.auth_headers(repo)},
    )
    response = oci.http.put(with_query(location, digest=ol.digest_of(data)))
    assert response.status_code != 201, "a blob was completed from a truncated chunk"
    assert not oci.blob_exists(repo, ol.digest_of(data))


@pytest.mark.moorage_extra("an upload resumes after a dropped connection from the Range the server reports")
def test_upload_resumes_after_a_dropped_connection(oci: OciClient, repo: str) -> None:
    data = os.urandom(300_000)
    location = oci.start_upload(repo)
    send_truncated(oci.server, "PATCH", location, data[:100_000], len(data), oci.auth_headers(repo))
    status = oci.http.get(location)
    assert status.status_code == 204
    received = int(status.headers["Range"].split("-")[1]) + 1 if status.headers.get("Range") != "0-0" else 0
    assert 0 <= received <= 100_000
    location = oci.absolute(status.headers["Location"])
    rest = oci.http.patch(location, content=data[received:], headers={"Content-Range": f"{received}-{len(data) - 1}"})
    assert rest.status_code == 202, rest.text
    done = oci.http.put(with_query(oci.absolute(rest.headers["Location"]), digest=ol.digest_of(data)))
    assert done.status_code == 201, done.text
    assert oci.http.get(f"/v2/{repo}/blobs/{ol.digest_of(data)}").content == data


@pytest.mark.moorage_extra("single-request monolithic upload")
def test_truncated_single_post_leaves_no_blob(oci: OciClient, repo: str) -> None:
    data = os.urandom(128 * 1024)
    digest = ol.digest_of(data)
    send_truncated(
        oci.server, "POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data[:1000], len(data), oci.auth_headers(repo)
    )
    assert not oci.blob_exists(repo, digest)


# --- 16 clients at once -------------------------------------------------------------------------


def _race_push(
    shared: OciClient, repo: str, blob: ol.Blob, image: ol.Image, start: threading.Barrier, chunked: bool
) -> tuple[int, int]:
    with OciClient(shared.server, auth=shared.auth) as oci:
        start.wait()
        location = oci.start_upload(repo)
        if chunked:
            half = blob.size // 2
            step = oci.http.patch(location, content=blob.data[:half], headers={"Content-Range": f"0-{half - 1}"})
            location = oci.absolute(step.headers["Location"])
            blob_status = oci.http.put(
                with_query(location, digest=blob.digest),
                content=blob.data[half:],
                headers={"Content-Range": f"{half}-{blob.size - 1}"},
            ).status_code
        else:
            blob_status = oci.http.put(with_query(location, digest=blob.digest), content=blob.data).status_code
        if not oci.blob_exists(repo, image.config.digest):
            oci.push_blob(repo, image.config)
        return blob_status, oci.put_manifest(repo, "race", image.manifest).status_code


def test_sixteen_clients_pushing_one_blob_and_tag(oci: OciClient, repo: str, target: str) -> None:
    if target == "reference":
        pytest.skip(
            "docker-registry 2.8 races here: while one blob is committed by many clients it "
            "intermittently refuses manifests with DIGEST_INVALID (0-5 of 16 in 5 runs)"
        )
    blob = ol.Blob(ol.OCI_LAYER, os.urandom(256 * 1024))
    config = ol.image_config([ol.digest_of(blob.data)])
    images = []
    for client in range(CLIENTS):
        document = {
            "schemaVersion": 2,
            "mediaType": ol.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [blob.descriptor()],
            "annotations": {"org.example.client": str(client)},
        }
        images.append(ol.Image(ol.Blob(ol.OCI_MANIFEST, ol.canonical_json(document)), config, (blob,)))
    oci.auth_headers(repo)  # one token for all clients, fetched before they race
    start = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(
            pool.map(lambda n: _race_push(oci, repo, blob, images[n], start, chunked=n % 2 == 1), range(CLIENTS))
        )
    assert [status for status, _ in results] == [201] * CLIENTS, results
    assert [status for _, status in results] == [201] * CLIENTS, results
    tagged = oci.get_manifest(repo, "race")
    assert tagged.status_code == 200
    assert tagged.headers["Docker-Content-Digest"] in {image.digest for image in images}
    assert ol.digest_of(tagged.content) == tagged.headers["Docker-Content-Digest"]
    tag_digest = tagged.headers["Docker-Content-Digest"]
    assert oci.head_manifest(repo, "race").headers["Docker-Content-Digest"] == tag_digest
    assert oci.tags(repo).json()["tags"] == ["race"]
    for image in images:
        assert oci.get_manifest(repo, image.digest).content == image.manifest.data
    assert oci.http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
    copies = _copies_on_disk(oci.server.data_dir, blob.data)
    assert len(copies) == 1, f"the blob is stored {len(copies)} times: {copies}"


# --- SIGKILL in the middle of a push --------------------------------------------------------------


@dataclass(frozen=True)
class Crash:
    """A server killed with SIGKILL in the middle of pushes, and started again on its data: what each
    test looks for. One crash serves both tests (each start is a new process: seconds of CPU)."""

    restarted: ServerProcess
    repo: str
    done: ol.Image
    chunked_blob: ol.Blob
    partial_image: ol.Image
    in_flight: tuple[ol.Blob, ...]
    resume_repo: str
    resume_data: bytes
    resume_location: str
    """The upload session's location (path and query) when the server was killed, 100,000 bytes in."""
    acknowledged: tuple[ol.Blob, ...]
    """Small blobs pushed by 8 clients just before the kill, every one answered 201."""


@pytest.fixture(scope="module")
def crash(registry_backend: RegistryBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    repo, resume_repo = unique_repo("crash-mid-push"), unique_repo("crash-resume")
    data_dir = registry_backend.data_dir(tmp_path_factory.mktemp("crash") / "data")
    done = ol.image([{"done/1.txt": os.urandom(10_000)}, {"done/2.txt": b"two"}])
    chunked_blob = ol.Blob("application/octet-stream", os.urandom(300_000))
    in_flight_patch = ol.Blob("application/octet-stream", os.urandom(4 * 1024 * 1024))
    in_flight_put = ol.Blob("application/octet-stream", os.urandom(2 * 1024 * 1024))
    partial_image = ol.image([{"partial.txt": b"partial"}])
    resume_data = os.urandom(250_000)
    acknowledged = tuple(ol.Blob("application/octet-stream", os.urandom(4096)) for _ in range(32))
    server = registry_backend.start(data_dir)
    try:
        with OciClient(server) as oci:
            oci.push(repo, done, tag="done")
            location = oci.start_upload(repo)
            step = oci.http.patch(location, content=chunked_blob.data[:100_000], headers={"Content-Range": "0-99999"})
            oci.http.put(
                with_query(oci.absolute(step.headers["Location"]), digest=chunked_blob.digest),
                content=chunked_blob.data[100_000:],
                headers={"Content-Range": f"100000-{chunked_blob.size - 1}"},
            ).raise_for_status()
            for blob in partial_image.blobs():
                oci.push_blob(repo, blob)
            patch_location = oci.start_upload(repo)
            put_location = oci.start_upload(repo)
            auth = oci.auth_headers(repo)
            resume = oci.start_upload(resume_repo)
            resumed = oci.http.patch(resume, content=resume_data[:100_000], headers={"Content-Range": "0-99999"})
            assert resumed.status_code == 202
            resume_location = _relative(resumed.headers["Location"])
        sockets = [
            open_truncated(
                server, "PATCH", patch_location, in_flight_patch.data[: 1024 * 1024], in_flight_patch.size, auth
            ),
            open_truncated(
                server,
                "PUT",
                with_query(put_location, digest=in_flight_put.digest),
                in_flight_put.data[: 1024 * 1024],
                in_flight_put.size,
                auth,
            ),
            open_truncated(
                server,
                "PUT",
                f"/v2/{repo}/manifests/partial",
                partial_image.manifest.data[: partial_image.manifest.size // 2],
                partial_image.manifest.size,
                {"Content-Type": ol.OCI_MANIFEST, **auth},
            ),
        ]
        time.sleep(0.5)  # let the server read what was sent
        for sock in sockets:
            assert not _answered_early(sock), "an in-flight request was refused before the crash"
        with OciClient(server) as oci:
            oci.auth_headers(repo)
            with ThreadPoolExecutor(8) as pool:
                statuses = list(
                    pool.map(lambda n: _push_small(oci, repo, acknowledged[n], n), range(len(acknowledged)))
                )
        assert statuses == [201] * len(acknowledged), statuses
        server.kill()  # right after the last 201: nothing of these pushes may be pending
        for sock in sockets:
            sock.close()
    finally:
        server.stop()
    restarted = registry_backend.start(data_dir)
    try:
        yield Crash(
            restarted,
            repo,
            done,
            chunked_blob,
            partial_image,
            (in_flight_patch, in_flight_put),
            resume_repo,
            resume_data,
            resume_location,
            acknowledged,
        )
    finally:
        restarted.stop()


def _push_small(oci: OciClient, repo: str, blob: ol.Blob, n: int) -> int:
    """Push a small blob as clients do: every other one by ``POST ?digest=``, the others by POST
    then a closing PUT with the whole body; the status of the last request."""
    octet = {"Content-Type": "application/octet-stream"}
    if n % 2:
        response = oci.http.post(
            f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest}, content=blob.data, headers=octet
        )
    else:
        location = oci.start_upload(repo)
        response = oci.http.put(with_query(location, digest=blob.digest), content=blob.data, headers=octet)
    return response.status_code


@pytest.mark.slow
def test_sigkill_mid_push_then_restart_serves_completed_content_only(crash: Crash) -> None:
    repo = crash.repo
    with OciClient(crash.restarted) as oci:
        assert oci.get_manifest(repo, "done").content == crash.done.manifest.data
        for blob in (*crash.done.blobs(), crash.chunked_blob, *crash.partial_image.blobs()):
            assert oci.http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
        for blob in crash.in_flight:
            assert not oci.blob_exists(repo, blob.digest)
        assert oci.head_manifest(repo, "partial").status_code == 404
        assert oci.head_manifest(repo, crash.partial_image.digest).status_code == 404
        assert oci.tags(repo).json()["tags"] == ["done"]
        oci.push(repo, crash.partial_image, tag="after")
        assert oci.get_manifest(repo, "after").content == crash.partial_image.manifest.data


@pytest.mark.slow
def test_every_small_blob_acknowledged_before_a_sigkill_is_intact(crash: Crash) -> None:
    with OciClient(crash.restarted) as oci:
        for blob in crash.acknowledged:
            pulled = oci.http.get(f"/v2/{crash.repo}/blobs/{blob.digest}")
            assert pulled.status_code == 200, f"{blob.digest} acknowledged, then lost: {pulled.status_code}"
            assert pulled.content == blob.data


@pytest.mark.slow
@pytest.mark.moorage_extra("upload state survives a restart (the reference signs it with a per-run secret)")
def test_upload_session_survives_a_crash(crash: Crash) -> None:
    data, repo = crash.resume_data, crash.resume_repo
    with OciClient(crash.restarted) as oci:
        status = oci.http.get(crash.resume_location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-99999"
        rest = oci.http.patch(
            oci.absolute(status.headers["Location"]),
            content=data[100_000:],
            headers={"Content-Range": f"100000-{len(data) - 1}"},
        )
        assert rest.status_code == 202
        done = oci.http.put(with_query(oci.absolute(rest.headers["Location"]), digest=ol.digest_of(data)))
        assert done.status_code == 201
        assert oci.http.get(f"/v2/{repo}/blobs/{ol.digest_of(data)}").content == data
