"""moorage with its blobs on S3 (SeaweedFS), as a client sees it: blob GETs redirected to presigned
URLs (ranges too), an object store that goes away in the middle of a push (503 with Retry-After,
nothing partial visible, pushes work again when it is back), credentials that never show in a log or
in ``moorage config``, and the memory a streamed push holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SessionCache
from tests.oci.oci_client import OciClient, assert_error, unique_repo, with_query
from tests.support.ocilayout import digest_of
from tests.support.seaweedfs import SeaweedFS, start_moorage_on_s3
from tests.support.servers import ServerProcess

MiB = 1 << 20
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def redirecting(
    s3_server: SeaweedFS, tmp_path_factory: pytest.TempPathFactory, session_cache: SessionCache
) -> ServerProcess:
    """moorage answering blob GETs with 307 to the object store, with S3's smallest parts (5 MiB),
    logging at DEBUG with the access log."""
    return session_cache.get(
        "s3-redirecting-moorage",
        lambda: start_moorage_on_s3(
            tmp_path_factory.mktemp("s3-redirect"),
            s3_server,
            STORAGE__S3_REDIRECT="true",
            STORAGE__S3_REDIRECT_EXPIRY_SECONDS="120",
            STORAGE__S3_PART_SIZE=str(5 * MiB),
            LOG_LEVEL="debug",
            ACCESS_LOG="true",
        ),
        close=ServerProcess.stop,
    )


@pytest.fixture
def oci(redirecting: ServerProcess) -> Iterator[OciClient]:
    with OciClient(redirecting) as client:
        yield client


def test_blob_gets_answer_307_to_a_presigned_url_that_serves_the_bytes_and_ranges(oci: OciClient) -> None:
    repo = unique_repo("redirect")
    data = os.urandom(3 * MiB + 17)
    digest = oci.push_blob(repo, data)
    head = oci.http.head(f"/v2/{repo}/blobs/{digest}")  # HEAD stays with moorage (a presigned URL is for GET)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    answer = oci.http.get(f"/v2/{repo}/blobs/{digest}")
    assert answer.status_code == 307 and answer.headers["Docker-Content-Digest"] == digest
    location = answer.headers["Location"]
    assert location.startswith(oci.server.env["MOORAGE_STORAGE__S3_ENDPOINT"]) and "X-Amz-Expires=120" in location
    with httpx.Client() as store:
        assert store.get(location).content == data
        ranged = store.get(location, headers={"Range": "bytes=1048570-1048580"})
        assert ranged.status_code == 206 and ranged.content == data[1048570:1048581]
    # The range is the client's: sent to moorage, it is redirected the same way and honoured by the store.
    redirected = oci.http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=10-19"})
    assert redirected.status_code == 307
    with httpx.Client() as store:
        assert store.get(redirected.headers["Location"], headers={"Range": "bytes=10-19"}).content == data[10:20]
    # A blob of another repository is refused before any URL is handed out.
    assert_error(oci.http.get(f"/v2/{unique_repo('other')}/blobs/{digest}"), 404, "BLOB_UNKNOWN", "NAME_UNKNOWN")


def test_chunks_smaller_than_a_part_are_gathered_into_parts(oci: OciClient) -> None:
    """Chunks of 3 MiB (under S3's 5 MiB part minimum) across six PATCH requests: each request
    continues the multipart upload from the state the last one left in the store."""
    repo = unique_repo("chunked")
    data = os.urandom(17 * MiB + 5)
    location = oci.start_upload(repo)
    for start in range(0, len(data), 3 * MiB):
        chunk = data[start : start + 3 * MiB]
        answer = oci.http.patch(
            location, content=chunk, headers={**OCTET, "Content-Range": f"{start}-{start + len(chunk) - 1}"}
        )
        assert answer.status_code == 202, answer.text
        location = oci.absolute(answer.headers["Location"])
    digest = digest_of(data)
    assert oci.http.put(with_query(location, digest=digest)).status_code == 201
    with httpx.Client() as store:
        assert store.get(oci.http.get(f"/v2/{repo}/blobs/{digest}").headers["Location"]).content == data


def test_secrets_never_reach_the_log_or_moorage_config(redirecting: ServerProcess, oci: OciClient) -> None:
    repo = unique_repo("secret")
    digest = oci.push_blob(repo, os.urandom(2 * MiB))  # requests at DEBUG, the access log on
    assert oci.http.get(f"/v2/{repo}/blobs/{digest}").status_code == 307
    secret = Path(redirecting.env["MOORAGE_STORAGE__S3_SECRET_KEY_FILE"]).read_text().strip()
    assert secret not in redirecting.log()
    shown = subprocess.run(
        [sys.executable, "-m", "moorage", "config"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **redirecting.env, "MOORAGE_STORAGE__S3_SECRET_KEY": secret},
    )
    assert secret not in shown.stdout + shown.stderr
    storage = json.loads(shown.stdout)["storage"]
    assert storage["s3_secret_key"] == "**********" and storage["s3_secret_key_file"]


# --- the object store goes away ------------------------------------------------------------------------


@pytest.fixture
def own_store(tmp_path: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS of this test's own: it will be stopped and started again."""
    from tests.support import seaweedfs

    store = seaweedfs.start()
    try:
        yield store
    finally:
        store.close()


def assert_unavailable(response: httpx.Response) -> None:
    """503 with Retry-After and an OCI error body: distribution's UNAVAILABLE code (not one of the
    spec's, which has none for this; docker and containerd know it), with a message saying why."""
    assert response.status_code == 503, f"{response.status_code}: {response.text}"
    assert int(response.headers["Retry-After"]) > 0
    [error] = response.json()["errors"]
    assert error["code"] == "UNAVAILABLE" and "blob store" in error["message"]


def test_the_store_stopped_mid_push_answers_503_and_pushes_work_when_it_is_back(
    own_store: SeaweedFS, tmp_path: Path
) -> None:
    server = start_moorage_on_s3(tmp_path / "outage", own_store)
    with server, OciClient(server) as oci:
        repo = unique_repo("outage")
        kept = os.urandom(MiB)
        kept_digest = oci.push_blob(repo, kept)
        data = os.urandom(12 * MiB)
        digest = digest_of(data)
        location = oci.start_upload(repo)
        first = oci.http.patch(
            location, content=data[: 6 * MiB], headers={**OCTET, "Content-Range": f"0-{6 * MiB - 1}"}
        )
        assert first.status_code == 202
        location = oci.absolute(first.headers["Location"])

        own_store.stop()
        second = oci.http.patch(
            location, content=data[6 * MiB :], headers={**OCTET, "Content-Range": f"{6 * MiB}-{len(data) - 1}"}
        )
        assert_unavailable(second)
        assert_unavailable(
            oci.http.put(
                with_query(oci.start_upload(repo), digest=digest_of(b"x" * (2 * MiB))),
                content=b"x" * (2 * MiB),
                headers=OCTET,
            )
        )
        assert_unavailable(oci.http.get(f"/v2/{repo}/blobs/{kept_digest}"))
        assert not oci.blob_exists(repo, digest)  # nothing partial became a blob
        status = oci.http.get(location)
        assert status.status_code == 204 and status.headers["Range"] == f"0-{6 * MiB - 1}"

        own_store.start()
        retried = oci.http.patch(
            location, content=data[6 * MiB :], headers={**OCTET, "Content-Range": f"{6 * MiB}-{len(data) - 1}"}
        )
        assert retried.status_code == 202, retried.text
        done = oci.http.put(with_query(oci.absolute(retried.headers["Location"]), digest=digest))
        assert done.status_code == 201, done.text
        assert oci.http.get(f"/v2/{repo}/blobs/{digest}").content == data
        assert oci.http.get(f"/v2/{repo}/blobs/{kept_digest}").content == kept
        assert oci.push_blob(repo, b"after the outage" * 1000)


# --- memory ---------------------------------------------------------------------------------------------


def test_a_streamed_push_holds_a_few_parts_in_memory_not_the_blob(redirecting: ServerProcess, oci: OciClient) -> None:
    """96 MiB streamed in one PATCH through a server with 5 MiB parts: the server's memory grows by
    the tail, the parts in flight and the request batches, never by the blob."""
    from tests.hostile.test_http_edge import RssSampler

    size = 96 * MiB
    repo = unique_repo("memory")
    oci.push_blob(repo, os.urandom(MiB))
    piece = os.urandom(MiB)

    def body() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield piece

    location = oci.start_upload(repo)
    with RssSampler(redirecting.process.pid) as rss:
        answer = oci.http.patch(location, content=body(), headers=OCTET, timeout=120)
    assert answer.status_code == 202, answer.text
    assert answer.headers["Range"] == f"0-{size - 1}"
    grown = rss.peak - rss.before
    print(f"RSS before {rss.before:.0f} MB, peak {rss.peak:.0f} MB: +{grown:.0f} MB for a {size // MiB} MiB push")
    assert grown < 64, f"the server grew by {grown:.0f} MB while a {size // MiB} MiB blob streamed through"
    done = oci.http.put(with_query(oci.absolute(answer.headers["Location"]), digest=digest_of(piece * (size // MiB))))
    assert done.status_code == 201, done.text
