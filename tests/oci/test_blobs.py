"""Pulling, checking and deleting blobs (end-2, end-10), ranges, digests and repository scope."""

from __future__ import annotations

import os

import pytest

from tests.oci.oci_client import OciClient, assert_digest_header_matches, assert_error
from tests.support.ocilayout import EMPTY_JSON, Blob, digest_of
from tests.support.registry_target import registry_backend_with_s3

__all__ = ["registry_backend_with_s3"]  # these tests run on S3 storage too


def test_get_blob_returns_exact_bytes_and_digest(oci: OciClient, repo: str) -> None:
    data = os.urandom(4096)
    digest = oci.push_blob(repo, data)
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Docker-Content-Digest"] == digest
    assert int(response.headers["Content-Length"]) == len(data)


def test_head_blob_has_length_and_digest_but_no_body(oci: OciClient, repo: str) -> None:
    data = os.urandom(1000)
    digest = oci.push_blob(repo, data)
    response = oci.http.head(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(data)
    assert response.headers["Docker-Content-Digest"] == digest


def test_missing_blob_is_404_blob_unknown(oci: OciClient, repo: str) -> None:
    oci.push_blob(repo, b"something so the repository exists")
    missing = digest_of(os.urandom(32))
    assert_error(oci.http.get(f"/v2/{repo}/blobs/{missing}"), 404, "BLOB_UNKNOWN")
    assert oci.http.head(f"/v2/{repo}/blobs/{missing}").status_code == 404


def test_blob_of_another_repository_is_not_served(oci: OciClient, repo: str) -> None:
    digest = oci.push_blob(repo, os.urandom(256))
    other = repo + "-other"
    oci.push_blob(other, b"other content")
    assert_error(oci.http.get(f"/v2/{other}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize("digest", ["sha256:abc", "sha256:" + "g" * 64, "nonsense", "sha256:" + "A" * 64])
def test_malformed_digest_is_rejected(oci: OciClient, repo: str, digest: str) -> None:
    oci.push_blob(repo, b"x")
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}")
    assert_error(response, (400, 404), "DIGEST_INVALID", "BLOB_UNKNOWN")


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [("bytes=0-0", 0, 0), ("bytes=2-5", 2, 5), ("bytes=4-", 4, 9), ("bytes=-3", 7, 9), ("bytes=8-100", 8, 9)],
)
def test_range_request_answers_206_with_content_range(
    oci: OciClient, repo: str, range_header: str, start: int, end: int
) -> None:
    data = b"0123456789"
    digest = oci.push_blob(repo, data)
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": range_header})
    assert response.status_code == 206
    assert response.content == data[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"


@pytest.mark.moorage_extra("RFC 9110 416 for an unsatisfiable range; the reference sends a malformed answer")
def test_unsatisfiable_range_answers_416(oci: OciClient, repo: str) -> None:
    digest = oci.push_blob(repo, b"0123456789")
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=50-60"})
    assert response.status_code == 416
    assert response.headers.get("Content-Range") == "bytes */10"


@pytest.mark.parametrize("data", [b"", EMPTY_JSON], ids=["empty", "empty-json"])
def test_well_known_small_blobs_round_trip(oci: OciClient, repo: str, data: bytes) -> None:
    digest = oci.push_blob(repo, data)
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Docker-Content-Digest"] == digest
    head = oci.http.head(f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(data)
    assert oci.http.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    assert oci.http.head(f"/v2/{repo}/blobs/{digest}").status_code == 404


SUITE_BLOB = bytes(range(256)) * 8
"""The 2048 bytes the newest conformance suite asks ranges of."""


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=500-1499", 500, 1499),
        ("bytes=500-", 500, 2047),
        ("bytes=-500", 1548, 2047),
        ("bytes=2000-5000", 2000, 2047),
    ],
)
def test_ranges_of_the_conformance_suite(oci: OciClient, repo: str, range_header: str, start: int, end: int) -> None:
    digest = oci.push_blob(repo, SUITE_BLOB)
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": range_header})
    assert response.status_code == 206
    assert response.content == SUITE_BLOB[start : end + 1]
    assert int(response.headers["Content-Length"]) == end + 1 - start
    assert response.headers["Content-Range"] in (f"bytes {start}-{end}/2048", f"bytes {start}-{end}/*")


@pytest.mark.moorage_extra(
    "416 for the newest conformance suite's unsatisfiable ranges; the reference sends a malformed answer"
)
@pytest.mark.parametrize("range_header", ["bytes=5000-10000", "bytes=500-0"])
def test_unsatisfiable_ranges_of_the_conformance_suite_are_416(oci: OciClient, repo: str, range_header: str) -> None:
    """A range past the end, or one that ends before it starts: 416, not the whole blob."""
    digest = oci.push_blob(repo, SUITE_BLOB)
    response = oci.http.get(f"/v2/{repo}/blobs/{digest}", headers={"Range": range_header})
    assert response.status_code == 416, response.status_code


def test_sha512_blob_round_trips(oci: OciClient, repo: str) -> None:
    blob = Blob("application/octet-stream", os.urandom(2048), "sha512")
    assert oci.push_blob(repo, blob).startswith("sha512:")
    response = oci.http.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status_code == 200
    assert response.content == blob.data
    assert_digest_header_matches(response, blob.data)


def test_delete_blob_then_it_is_gone(oci: OciClient, repo: str) -> None:
    digest = oci.push_blob(repo, os.urandom(128))
    response = oci.http.delete(f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 202
    assert oci.http.head(f"/v2/{repo}/blobs/{digest}").status_code == 404
    assert_error(oci.http.delete(f"/v2/{repo}/blobs/{digest}"), 404, "BLOB_UNKNOWN")


def test_delete_blob_in_one_repository_keeps_it_in_another(oci: OciClient, repo: str) -> None:
    data = os.urandom(128)
    digest = oci.push_blob(repo, data)
    other = repo + "-keep"
    oci.push_blob(other, data)
    assert oci.http.delete(f"/v2/{repo}/blobs/{digest}").status_code == 202
    response = oci.http.get(f"/v2/{other}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
