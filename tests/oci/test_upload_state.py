"""Upload sessions whose state rides in their Location (``_state``, as the reference implementation
does): POST writes no row, and the state is the session's until a close, a cancellation or a first
chunk uses it up. Over real HTTP: the Location every step answers keeps the state a client must
bring back, and an altered, malformed or used-up state is refused."""

from __future__ import annotations

import httpx
import pytest

from tests.oci.oci_client import OciClient, assert_error, with_query
from tests.support.ocilayout import digest_of

OCTET = {"Content-Type": "application/octet-stream"}
pytestmark = pytest.mark.moorage_extra("an upload's state is signed into its Location and used once")


def _state(location: str) -> str:
    state = httpx.URL(location).params.get("_state")
    assert state, f"no _state in {location}"
    return state


def _with_state(location: str, state: str) -> str:
    return str(httpx.URL(location).copy_set_param("_state", state))


def _put(oci: OciClient, location: str, data: bytes) -> httpx.Response:
    return oci.http.put(with_query(location, digest=digest_of(data)), content=data, headers=OCTET)


def test_the_state_rides_in_every_location_of_a_session_without_a_row(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    state = _state(location)
    status = oci.http.get(location)
    assert status.status_code == 204, status.text
    assert status.headers["Range"] == "0-0"
    assert _state(oci.absolute(status.headers["Location"])) == state
    refused = oci.http.patch(location, content=b"abc", headers={**OCTET, "Content-Range": "5-7"})
    assert refused.status_code == 416
    assert _state(oci.absolute(refused.headers["Location"])) == state  # where to resume from
    chunk = oci.http.patch(location, content=b"abc", headers={**OCTET, "Content-Range": "0-2"})
    assert chunk.status_code == 202, chunk.text
    assert chunk.headers["Range"] == "0-2"
    following = oci.absolute(chunk.headers["Location"])  # the session has its row now
    closed = oci.http.put(with_query(following, digest=digest_of(b"abcdef")), content=b"def", headers=OCTET)
    assert closed.status_code == 201, closed.text
    assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(b'abcdef')}").content == b"abcdef"


def test_a_used_up_state_is_unknown(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    assert _put(oci, location, b"pushed once").status_code == 201
    assert_error(_put(oci, location, b"pushed twice"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(oci.http.get(location), 404, "BLOB_UPLOAD_UNKNOWN")
    cancelled = oci.start_upload(repo)
    assert oci.http.delete(cancelled).status_code == 204
    assert_error(_put(oci, cancelled, b"after the cancel"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(oci.http.patch(cancelled, content=b"x", headers=OCTET), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not oci.blob_exists(repo, digest_of(b"after the cancel"))
    assert not oci.blob_exists(repo, digest_of(b"pushed twice"))


def test_an_altered_or_malformed_state_is_refused(oci: OciClient, repo: str) -> None:
    location = oci.start_upload(repo)
    created, mac = _state(location).split(".")
    altered = _with_state(location, f"{int(created, 16) - 1:x}.{mac}")
    assert_error(_put(oci, altered, b"forged"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(_put(oci, _with_state(location, "not-a-state"), b"forged"), 400, "BLOB_UPLOAD_INVALID")
    assert not oci.blob_exists(repo, digest_of(b"forged"))
    assert _put(oci, location, b"the session is still open").status_code == 201
