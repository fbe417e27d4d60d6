"""The API version check (end-1) and the error format every failure shares."""

from __future__ import annotations

import httpx
import pytest

from tests.oci.oci_client import OciClient, assert_error


def test_version_check_answers_200_with_api_version_header(oci: OciClient) -> None:
    response = oci.http.get("/v2/")
    assert response.status_code == 200
    assert response.headers.get("Docker-Distribution-API-Version") == "registry/2.0"


def test_anonymous_version_check_is_200_or_an_authentication_challenge(oci: OciClient) -> None:
    with httpx.Client(base_url=oci.server.base_url) as anonymous:
        response = anonymous.get("/v2/")
    assert response.status_code in (200, 401)
    assert response.headers.get("Docker-Distribution-API-Version") == "registry/2.0"
    if response.status_code == 401:
        assert response.headers.get("WWW-Authenticate", "").split(" ")[0].lower() in ("bearer", "basic")
        assert_error(response, 401, "UNAUTHORIZED")


def test_version_check_without_trailing_slash_is_not_an_error(oci: OciClient) -> None:
    response = oci.http.get("/v2", follow_redirects=True)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "codes"),
    [
        ("GET", "/v2/{repo}/manifests/latest", 404, ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")),
        ("GET", "/v2/{repo}/blobs/sha256:" + "0" * 64, 404, ("BLOB_UNKNOWN", "NAME_UNKNOWN")),
        ("GET", "/v2/{repo}/tags/list", 404, ("NAME_UNKNOWN",)),
        (
            "GET",
            "/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000",
            404,
            ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID", "NAME_UNKNOWN"),
        ),
        ("PUT", "/v2/{repo}/manifests/latest", 400, ("MANIFEST_INVALID",)),
        ("DELETE", "/v2/{repo}/manifests/sha256:" + "0" * 64, 404, ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")),
    ],
)
def test_failures_carry_an_oci_error_body(
    oci: OciClient, repo: str, method: str, path: str, status: int, codes: tuple[str, ...]
) -> None:
    response = oci.http.request(
        method,
        path.format(repo=repo),
        content=b"not a manifest",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert_error(response, status, *codes)
    assert response.headers.get("Content-Type", "").startswith("application/json")


def test_head_failure_has_no_body(oci: OciClient, repo: str) -> None:
    response = oci.http.head(f"/v2/{repo}/blobs/sha256:" + "1" * 64)
    assert response.status_code == 404
    assert response.content == b""


def test_unsupported_method_is_a_client_error_not_a_crash(oci: OciClient, repo: str) -> None:
    response = oci.http.request("PATCH", f"/v2/{repo}/manifests/latest", content=b"{}")
    assert 400 <= response.status_code < 500, response.status_code


def test_server_stays_consistent_under_keep_alive(oci: OciClient, repo: str) -> None:
    """Many requests on one kept-alive connection, errors in between, all answered in order."""
    for _ in range(20):
        assert oci.http.get("/v2/").status_code == 200
        assert oci.get_manifest(repo, "missing").status_code == 404
        assert oci.http.put(f"/v2/{repo}/manifests/x", content=b"[").status_code == 400
