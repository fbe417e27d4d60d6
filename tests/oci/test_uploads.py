"""Pushing blobs (end-4a/4b, end-5, end-6, end-13, end-14): monolithic, chunked, streamed, status,
cancel, stale sessions, and the digest check that must store nothing on a mismatch."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.oci.oci_client import OciClient, assert_digest_header_matches, assert_error, with_query
from tests.oci.registry_auth import PerActionTokenAuth, registry_credentials
from tests.support.ocilayout import Blob, digest_of
from tests.support.registry_target import registry_backend_with_s3
from tests.support.servers import ServerProcess

__all__ = ["registry_backend_with_s3"]  # these tests run on S3 storage too
OCTET = {"Content-Type": "application/octet-stream"}


def _patch(oci: OciClient, location: str, chunk: bytes, start: int | None) -> httpx.Response:
    headers = dict(OCTET)
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(chunk) - 1}"
    return oci.http.patch(location, content=chunk, headers=headers)


def _assert_step(oci: OciClient, response: httpx.Response, status: int, end: int | None = None) -> str:
    """Check one upload step answered ``status`` with a Location (and Range); return the location."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers.get("Location"), "upload step answered without a Location"
    if end is not None:
        assert response.headers.get("Range") == f"0-{end}"
    return oci.absolute(response.headers["Location"])


def _streamed(data: bytes, piece: int = 1000) -> Iterator[bytes]:
    for offset in range(0, len(data), piece):
        yield data[offset : offset + piece]


def _blob_is_absent(oci: OciClient, repo: str, *digests: str) -> None:
    for digest in digests:
        assert not oci.blob_exists(repo, digest), f"{digest} was stored"


# --- monolithic -----------------------------------------------------------------------------


def test_post_then_put_creates_a_pullable_blob(oci: OciClient, repo: str) -> None:
    data = os.urandom(3000)
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    location = _assert_step(oci, response, 202)
    assert re.search(r"[0-9a-fA-F-]{16,}", location), f"no session id in {location}"
    response = oci.http.put(with_query(location, digest=digest_of(data)), content=data, headers=OCTET)
    blob_location = _assert_step(oci, response, 201)
    assert response.headers["Docker-Content-Digest"] == digest_of(data)
    pulled = oci.http.get(blob_location)
    assert pulled.status_code == 200
    assert pulled.content == data


def test_single_post_with_digest_stores_the_blob_or_falls_back_to_a_session(oci: OciClient, repo: str) -> None:
    data = os.urandom(2000)
    digest = digest_of(data)
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data, headers=OCTET)
    assert response.status_code in (201, 202), response.text
    location = oci.absolute(response.headers["Location"])
    if response.status_code == 202:  # the spec lets a registry decline single-request uploads
        response = oci.http.put(with_query(location, digest=digest), content=data, headers=OCTET)
        assert response.status_code == 201
    assert oci.http.get(f"/v2/{repo}/blobs/{digest}").content == data


@pytest.mark.moorage_extra("single-request monolithic upload (the spec says MAY)")
def test_single_post_with_digest_answers_201(oci: OciClient, repo: str) -> None:
    data = os.urandom(2000)
    digest = digest_of(data)
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data, headers=OCTET)
    location = _assert_step(oci, response, 201)
    assert response.headers["Docker-Content-Digest"] == digest
    assert oci.http.get(location).content == data


# --- chunked and streamed -----------------------------------------------------------------


def test_chunked_upload_reports_range_and_location_at_every_step(oci: OciClient, repo: str) -> None:
    data = os.urandom(3 * 1024 + 17)
    chunks = [data[:1024], data[1024:2048], data[2048:]]
    location = oci.start_upload(repo)
    offset = 0
    for chunk in chunks:
        location = _assert_step(oci, _patch(oci, location, chunk, offset), 202, offset + len(chunk) - 1)
        offset += len(chunk)
    status = oci.http.get(location)
    location = _assert_step(oci, status, 204, len(data) - 1)
    response = oci.http.put(with_query(location, digest=digest_of(data)), headers={"Content-Length": "0"})
    blob_location = _assert_step(oci, response, 201)
    assert_digest_header_matches(response, data)
    assert oci.http.get(blob_location).content == data


def test_last_chunk_may_come_with_the_closing_put(oci: OciClient, repo: str) -> None:
    data = os.urandom(2500)
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, data[:1500], 0), 202, 1499)
    response = oci.http.put(
        with_query(location, digest=digest_of(data)),
        content=data[1500:],
        headers={**OCTET, "Content-Range": f"1500-{len(data) - 1}"},
    )
    _assert_step(oci, response, 201)
    assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data


def test_streamed_patch_without_content_range(oci: OciClient, repo: str) -> None:
    data = os.urandom(20_000)
    location = oci.start_upload(repo)
    response = oci.http.patch(location, content=_streamed(data), headers=OCTET)
    location = _assert_step(oci, response, 202, len(data) - 1)
    response = oci.http.put(with_query(location, digest=digest_of(data)), headers={"Content-Length": "0"})
    _assert_step(oci, response, 201)
    assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data


def test_two_streamed_patches_append(oci: OciClient, repo: str) -> None:
    first, second = os.urandom(700), os.urandom(900)
    location = oci.start_upload(repo)
    location = _assert_step(oci, oci.http.patch(location, content=first, headers=OCTET), 202, 699)
    location = _assert_step(oci, oci.http.patch(location, content=second, headers=OCTET), 202, 1599)
    response = oci.http.put(with_query(location, digest=digest_of(first + second)))
    _assert_step(oci, response, 201)


def test_sha512_chunked_upload(oci: OciClient, repo: str) -> None:
    blob = Blob("application/octet-stream", os.urandom(5000), "sha512")
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, blob.data[:2000], 0), 202, 1999)
    location = _assert_step(oci, _patch(oci, location, blob.data[2000:], 2000), 202, 4999)
    response = oci.http.put(with_query(location, digest=blob.digest))
    _assert_step(oci, response, 201)
    assert oci.http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data


@pytest.mark.spec_deviation("appends an out-of-order chunk instead of answering 416")
@pytest.mark.parametrize(("start", "label"), [(5, "gap"), (1, "overlap"), (0, "restart")])
def test_out_of_order_chunk_answers_416(oci: OciClient, repo: str, start: int, label: str) -> None:
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, b"abc", 0), 202, 2)
    response = _patch(oci, location, b"xyz", start)
    assert response.status_code == 416, f"{label}: {response.status_code} {response.text}"
    status = oci.http.get(location)
    location = _assert_step(oci, status, 204, 2)
    location = _assert_step(oci, _patch(oci, location, b"def", 3), 202, 5)
    response = oci.http.put(with_query(location, digest=digest_of(b"abcdef")))
    _assert_step(oci, response, 201)


@pytest.mark.spec_deviation("accepts a first chunk that does not start at 0")
def test_first_chunk_must_start_at_zero(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    assert _patch(oci, location, b"abc", 4).status_code == 416


@pytest.mark.moorage_extra("a 416 answer carries the Range the server holds")
def test_416_answer_says_what_the_server_has(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, b"abcd", 0), 202, 3)
    response = _patch(oci, location, b"zz", 9)
    assert response.status_code == 416
    assert response.headers.get("Range") == "0-3"
    assert response.headers.get("Location")


@pytest.mark.moorage_extra("Docker-Upload-UUID on upload status")
def test_client_resumes_after_a_416_with_its_read_token(registry: ServerProcess, repo: str) -> None:
    """The newest conformance suite's recovery: after a chunk refused with 416, GET the session to
    learn where to resume. Its client caches one token for a repository's reads and one for its
    writes, so that GET carries the read token (from an earlier HEAD): it must be enough to see how
    far one's own upload got."""
    credentials = registry_credentials(registry)
    auth = PerActionTokenAuth(*credentials) if credentials else None
    data = os.urandom(3000)
    with OciClient(registry, auth=auth) as oci:
        assert oci.http.head(f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404  # the read token
        location = _assert_step(oci, _patch(oci, oci.start_upload(repo), data[:1000], 0), 202, 999)
        refused = _patch(oci, location, data[2000:], 2000)
        assert refused.status_code == 416, refused.text
        status = oci.http.get(oci.absolute(refused.headers.get("Location") or location))
        location = _assert_step(oci, status, 204, 999)
        location = _assert_step(oci, _patch(oci, location, data[1000:2000], 1000), 202, 1999)
        done = oci.http.put(
            with_query(location, digest=digest_of(data)),
            content=data[2000:],
            headers={**OCTET, "Content-Range": f"2000-{len(data) - 1}"},
        )
        _assert_step(oci, done, 201)
        assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(data)}").content == data


@pytest.mark.spec_deviation("ignores the Content-Range of a closing PUT and appends the chunk")
def test_out_of_order_last_chunk_on_the_closing_put_is_416(registry: ServerProcess, repo: str) -> None:
    """The newest suite's "chunked out-of-order and put chunk": the last chunk, sent out of order
    with the closing PUT, is refused with 416 (nothing stored), and the client resumes after GET."""
    credentials = registry_credentials(registry)
    auth = PerActionTokenAuth(*credentials) if credentials else None
    data = os.urandom(3 * 1024 - 5)
    digest = digest_of(data)
    with OciClient(registry, auth=auth) as oci:
        location = _assert_step(oci, _patch(oci, oci.start_upload(repo), data[:1024], 0), 202, 1023)
        refused = oci.http.put(
            with_query(location, digest=digest),
            content=data[2048:],
            headers={**OCTET, "Content-Range": f"2048-{len(data) - 1}"},
        )
        assert refused.status_code == 416, refused.text
        assert not oci.blob_exists(repo, digest)
        location = _assert_step(oci, oci.http.get(location), 204, 1023)
        location = _assert_step(oci, _patch(oci, location, data[1024:2048], 1024), 202, 2047)
        done = oci.http.put(
            with_query(location, digest=digest),
            content=data[2048:],
            headers={**OCTET, "Content-Range": f"2048-{len(data) - 1}"},
        )
        _assert_step(oci, done, 201)
        assert oci.http.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_upload_status_names_the_session(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, b"12345", 0), 202, 4)
    response = oci.http.get(location)
    _assert_step(oci, response, 204, 4)
    upload_id = response.headers.get("Docker-Upload-UUID")
    assert upload_id and upload_id in location
    assert response.content == b""


@pytest.mark.moorage_extra("a chunk whose length disagrees with its Content-Range is refused")
def test_chunk_longer_than_its_content_range_is_refused(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    response = oci.http.patch(location, content=b"0123456789", headers={**OCTET, "Content-Range": "0-4"})
    assert 400 <= response.status_code < 500
    if response.status_code != 416:
        assert_error(response, (400, 404), "SIZE_INVALID", "BLOB_UPLOAD_INVALID")
    location = oci.absolute(response.headers.get("Location", location))
    _assert_step(oci, _patch(oci, location, b"abc", 0), 202, 2)  # nothing of the refused chunk kept


# --- cancel, stale and unknown sessions -----------------------------------------------------


def test_cancelled_upload_is_gone(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    location = _assert_step(oci, _patch(oci, location, b"partial", 0), 202, 6)
    assert oci.http.delete(location).status_code == 204
    assert_error(oci.http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(_patch(oci, location, b"more", 7), 404, "BLOB_UPLOAD_UNKNOWN")
    _blob_is_absent(oci, repo, digest_of(b"partial"))


def test_completed_upload_session_is_stale(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    response = oci.http.put(with_query(location, digest=digest_of(b"done")), content=b"done", headers=OCTET)
    assert response.status_code == 201
    assert_error(oci.http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    stale_put = oci.http.put(with_query(location, digest=digest_of(b"done")), content=b"done", headers=OCTET)
    assert_error(stale_put, 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.spec_deviation("an unknown upload id answers BLOB_UPLOAD_INVALID, not BLOB_UPLOAD_UNKNOWN")
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_session_is_404_blob_upload_unknown(oci: OciClient, repo: str, method: str) -> None:
    oci.push_blob(repo, b"make the repository exist")
    url = f"/v2/{repo}/blobs/uploads/3f1c8f7e-5b7e-4c9a-9d61-2f0e1b7c6a55"
    if method == "PUT":
        url = with_query(oci.absolute(url), digest=digest_of(b"x"))
    assert_error(
        oci.http.request(method, url, content=b"x" if method in ("PATCH", "PUT") else b""), 404, "BLOB_UPLOAD_UNKNOWN"
    )


@pytest.mark.moorage_extra("an upload session belongs to the repository that opened it")
def test_upload_session_cannot_be_used_from_another_repository(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    other = repo + "-other"
    oci.push_blob(other, b"other exists")
    foreign = location.replace(f"/v2/{repo}/", f"/v2/{other}/")
    assert_error(_patch(oci, foreign, b"abc", 0), 404, "BLOB_UPLOAD_UNKNOWN")


# --- digest verification: a mismatch stores nothing --------------------------------------------


@pytest.mark.parametrize("method", ["post-put", "chunked", "chunked-put-chunk", "stream"])
def test_wrong_digest_is_refused_and_stores_nothing(oci: OciClient, repo: str, method: str) -> None:
    data = os.urandom(3000)
    claimed = digest_of(data + b"oh no")
    location = oci.start_upload(repo)
    if method == "post-put":
        response = oci.http.put(with_query(location, digest=claimed), content=data, headers=OCTET)
    elif method == "chunked":
        location = _assert_step(oci, _patch(oci, location, data[:1000], 0), 202)
        location = _assert_step(oci, _patch(oci, location, data[1000:], 1000), 202)
        response = oci.http.put(with_query(location, digest=claimed))
    elif method == "chunked-put-chunk":
        location = _assert_step(oci, _patch(oci, location, data[:1000], 0), 202)
        response = oci.http.put(
            with_query(location, digest=claimed),
            content=data[1000:],
            headers={**OCTET, "Content-Range": f"1000-{len(data) - 1}"},
        )
    else:
        location = _assert_step(oci, oci.http.patch(location, content=_streamed(data), headers=OCTET), 202)
        response = oci.http.put(with_query(location, digest=claimed))
    assert_error(response, 400, "DIGEST_INVALID")
    _blob_is_absent(oci, repo, claimed, digest_of(data))


@pytest.mark.moorage_extra("single-request monolithic upload verifies the digest")
def test_single_post_with_wrong_digest_stores_nothing(oci: OciClient, repo: str) -> None:
    data = os.urandom(1500)
    claimed = digest_of(b"something else")
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"digest": claimed}, content=data, headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID")
    _blob_is_absent(oci, repo, claimed, digest_of(data))


def test_closing_put_without_digest_is_refused(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    response = oci.http.put(location, content=b"no digest", headers=OCTET)
    assert_error(response, (400, 404), "DIGEST_INVALID", "BLOB_UPLOAD_INVALID")
    _blob_is_absent(oci, repo, digest_of(b"no digest"))


@pytest.mark.parametrize("digest", ["sha256:1234", "md5:" + "0" * 32, "sha256"])
def test_malformed_or_unsupported_digest_is_refused(oci: OciClient, repo: str, digest: str) -> None:
    location = oci.start_upload(repo)
    response = oci.http.put(with_query(location, digest=digest), content=b"data", headers=OCTET)
    assert_error(response, 400, "DIGEST_INVALID", "UNSUPPORTED")
    _blob_is_absent(oci, repo, digest_of(b"data"))


# --- cross-repository mount ----------------------------------------------------------------


def test_mount_from_a_repository_that_has_the_blob(oci: OciClient, repo: str) -> None:
    data = os.urandom(512)
    source = repo + "-source"
    digest = oci.push_blob(source, data)
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": source})
    location = _assert_step(oci, response, 201)
    assert response.headers["Docker-Content-Digest"] == digest
    assert oci.http.get(location).content == data
    assert oci.http.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_mount_with_a_push_token_asked_before_the_mount(registry: ServerProcess, repo: str) -> None:
    """The newest conformance suite mounts with the push token it cached for the repository, which
    names only that repository: the registry asks again naming the source too (401), as
    distribution does, and mounts with the new token instead of falling back to a session."""
    credentials = registry_credentials(registry)
    auth = PerActionTokenAuth(*credentials) if credentials else None
    data = os.urandom(512)
    with OciClient(registry, auth=auth) as oci:
        source = repo + "-source"
        digest = oci.push_blob(source, data)
        oci.push_blob(repo, b"an earlier push: its token names only this repository")
        response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": source})
        location = _assert_step(oci, response, 201)
        assert oci.http.get(location).content == data


def test_mount_of_a_missing_blob_opens_an_upload_session(oci: OciClient, repo: str) -> None:
    data = os.urandom(512)
    source = repo + "-empty-source"
    oci.push_blob(source, b"source exists")
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest_of(data), "from": source})
    location = _assert_step(oci, response, 202)
    response = oci.http.put(with_query(location, digest=digest_of(data)), content=data, headers=OCTET)
    assert response.status_code == 201


def test_mount_without_from_mounts_or_opens_a_session(oci: OciClient, repo: str) -> None:
    data = os.urandom(512)
    digest = oci.push_blob(repo + "-somewhere", data)
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest})
    assert response.status_code in (201, 202)
    if response.status_code == 202:
        location = oci.absolute(response.headers["Location"])
        response = oci.http.put(with_query(location, digest=digest), content=data, headers=OCTET)
        assert response.status_code == 201
    assert oci.http.get(f"/v2/{repo}/blobs/{digest}").content == data


def test_mount_from_a_repository_without_the_blob_does_not_mount(oci: OciClient, repo: str) -> None:
    data = os.urandom(512)
    digest = oci.push_blob(repo + "-holder", data)
    bystander = repo + "-bystander"
    oci.push_blob(bystander, b"bystander exists")
    response = oci.http.post(f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": bystander})
    _assert_step(oci, response, 202)
    assert not oci.blob_exists(repo, digest)
