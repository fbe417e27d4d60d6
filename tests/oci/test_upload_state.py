"""Upload sessions whose state rides in their Location (``_state``, as the reference implementation
does): POST writes no row, and the state is the session's until a close, a cancellation or a first
chunk uses it up. Over real HTTP: the Location every step answers keeps the state a client must
bring back, and an altered, malformed or used-up state is refused."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from tests.oci.oci_client import OciClient, assert_error, with_query
from tests.support.ocilayout import digest_of
from tests.support.registry_target import RegistryBackend
from tests.support.servers import ServerProcess

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


def _stored(registry: ServerProcess, backend: RegistryBackend, digest: str) -> list[str]:
    """Where ``digest`` is kept behind the API: its file in the data directory, its row in the blobs
    table (linked by a repository or not: an unlinked one waits for garbage collection)."""
    algorithm, hex_digest = digest.split(":")
    found = []
    if (registry.data_dir / "storage" / "blobs" / algorithm / hex_digest[:2] / hex_digest / "data").exists():
        found.append("file")
    engine = sa.create_engine(backend.database_url or f"sqlite:///{registry.data_dir / 'moorage.db'}")
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM blobs WHERE digest = :d"), {"d": digest}).first():
                found.append("row")
    finally:
        engine.dispose()
    return found


@pytest.mark.parametrize("case", ["put-unknown", "patch-unknown", "other-repository", "other-upload", "used-up"])
def test_a_request_to_no_session_of_the_repository_stores_nothing(
    oci: OciClient, registry: ServerProcess, registry_backend: RegistryBackend, repo: str, case: str
) -> None:
    """A closing PUT (or a chunk) to an upload id the repository does not know, without ``_state`` or
    with a state signed for another repository, another upload id or used up, is BLOB_UPLOAD_UNKNOWN
    and leaves no bytes behind: a small closing body is digested before the session is read, so the
    session must be known before the blob is written, or (a used-up state, known only in the
    transaction that would use it) the blob written is taken back."""
    data = os.urandom(1500)
    location = oci.start_upload(repo)
    unknown = oci.absolute(f"/v2/{repo}/blobs/uploads/{uuid.uuid4().hex}")
    if case == "put-unknown":
        response = _put(oci, unknown, data)
    elif case == "patch-unknown":
        response = oci.http.patch(unknown, content=data, headers=OCTET)
    elif case == "other-repository":
        other = repo + "-other"
        oci.push_blob(other, b"the other repository exists")
        foreign = oci.start_upload(other)
        response = _put(oci, foreign.replace(f"/v2/{other}/", f"/v2/{repo}/"), data)
    elif case == "other-upload":
        response = _put(oci, _with_state(unknown, _state(location)), data)
    else:
        assert _put(oci, location, b"closes the session").status_code == 201
        response = _put(oci, location, data)
    assert_error(response, 404, "BLOB_UPLOAD_UNKNOWN")
    assert _stored(registry, registry_backend, digest_of(data)) == []
    assert _put(oci, oci.start_upload(repo), data).status_code == 201  # the check can see a stored blob
    assert _stored(registry, registry_backend, digest_of(data)) == ["file", "row"]


def _leased(registry: ServerProcess, backend: RegistryBackend, upload_id: str) -> bool:
    """Whether a chunk holds the session now (its lease runs)."""
    engine = sa.create_engine(backend.database_url or f"sqlite:///{registry.data_dir / 'moorage.db'}")
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT lease_until FROM uploads WHERE id = :u"), {"u": upload_id}).first()
    finally:
        engine.dispose()
    return row is not None and row[0] > time.time() * 1000


@contextmanager
def _chunk_held(
    oci: OciClient, registry: ServerProcess, backend: RegistryBackend, location: str, head: bytes, tail: bytes
) -> Iterator[Future[httpx.Response]]:
    """A PATCH of ``head + tail`` to ``location`` that has sent ``head`` and holds the session (its
    lease runs) for the ``with`` block; then it sends ``tail``. Yields the future of its answer."""
    upload_id = httpx.URL(location).path.rsplit("/", 1)[-1]
    release = threading.Event()

    def held_body() -> Iterator[bytes]:
        yield head
        assert release.wait(30), "the test never let the chunk finish"
        yield tail

    with ThreadPoolExecutor(1) as pool:
        chunk = pool.submit(oci.http.patch, location, content=held_body(), headers=OCTET)
        try:
            deadline = time.monotonic() + 30
            while not _leased(registry, backend, upload_id):
                assert time.monotonic() < deadline and not chunk.done(), "the chunk never took the session"
                time.sleep(0.02)
            yield chunk
        finally:
            release.set()


def test_a_whole_body_close_refused_while_a_chunk_holds_the_session_stores_nothing(
    oci: OciClient, registry: ServerProcess, registry_backend: RegistryBackend, repo: str
) -> None:
    """A closing PUT carrying a whole small blob while a streamed PATCH of the same session is still
    arriving is refused with 416, and leaves neither a blob file nor a blob row behind (its body was
    stored before the session was found held); the chunk then finishes and the session closes."""
    location = oci.start_upload(repo)
    first, rest = os.urandom(3000), os.urandom(2000)
    with _chunk_held(oci, registry, registry_backend, location, first, rest) as chunk:
        whole = os.urandom(1500)
        refused = _put(oci, location, whole)
        assert refused.status_code == 416, refused.text
        assert refused.headers["Range"] == "0-0"
        assert _stored(registry, registry_backend, digest_of(whole)) == []
    patched = chunk.result(timeout=30)
    assert patched.status_code == 202, patched.text
    assert patched.headers["Range"] == f"0-{len(first) + len(rest) - 1}"
    closed = oci.http.put(with_query(oci.absolute(patched.headers["Location"]), digest=digest_of(first + rest)))
    assert closed.status_code == 201, closed.text
    assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(first + rest)}").content == first + rest


def test_a_close_while_a_chunk_holds_the_session_is_refused_and_the_blob_stays_whole(
    oci: OciClient, registry: ServerProcess, registry_backend: RegistryBackend, repo: str
) -> None:
    """A closing PUT (no body) that names the bytes received so far, sent while another PATCH of the
    same session is still arriving, is refused with 416: the close must not adopt upload data a chunk
    is still appending to, or the blob of that digest (shared by every repository that pushes those
    bytes) would hold the chunk's bytes too."""
    first, held, rest = os.urandom(3000), os.urandom(2000), os.urandom(1000)
    started = oci.http.patch(oci.start_upload(repo), content=first, headers=OCTET)
    assert started.status_code == 202, started.text
    location = oci.absolute(started.headers["Location"])
    with _chunk_held(oci, registry, registry_backend, location, held[:1000], held[1000:]) as chunk:
        refused = oci.http.put(with_query(location, digest=digest_of(first)))
        assert refused.status_code == 416, refused.text
    patched = chunk.result(timeout=30)
    assert patched.status_code == 202, patched.text
    assert _stored(registry, registry_backend, digest_of(first)) == []
    closing = with_query(oci.absolute(patched.headers["Location"]), digest=digest_of(first + held + rest))
    closed = oci.http.put(closing, content=rest, headers=OCTET)
    assert closed.status_code == 201, closed.text
    assert oci.http.get(f"/v2/{repo}/blobs/{digest_of(first + held + rest)}").content == first + held + rest
