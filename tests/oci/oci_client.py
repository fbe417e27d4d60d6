"""A thin HTTP client for the OCI distribution API, for black-box tests.

It speaks raw HTTP through httpx so every status code and header stays visible to the test; it
only saves typing (upload sessions, pushing whole images) and checks the OCI error body.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterable
from typing import Any

import httpx

from tests.oci.registry_auth import RegistryTokenAuth, registry_credentials
from tests.support.ocilayout import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Blob,
    Content,
    digest_of,
)
from tests.support.registry_target import registry_target
from tests.support.servers import ServerProcess

# distribution-spec v1.1 error codes (code-1 .. code-14) and the legacy TAG_INVALID it mentions.
SPEC_ERROR_CODES = frozenset(
    {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
)
KNOWN_ERROR_CODES = SPEC_ERROR_CODES | {"TAG_INVALID"}
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)
ACCEPT_ALL_MANIFESTS = ", ".join(MANIFEST_TYPES)
_NAME_PART = re.compile(r"[^a-z0-9]+")


def unique_repo(label: str) -> str:
    """A fresh, valid ``ns/repo`` name (namespace starts with a letter) derived from ``label``."""
    repo = _NAME_PART.sub("-", label.lower())[:60].strip("-") or "repo"
    return f"t{uuid.uuid4().hex[:10]}/{repo}"


def error_codes(response: httpx.Response) -> list[str]:
    """The ``code`` of every error in an OCI error body (empty when the body is not one)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [str(error.get("code")) for error in errors or [] if isinstance(error, dict)]


def assert_error(response: httpx.Response, status: int | Iterable[int], *codes: str) -> dict[str, Any]:
    """Check an OCI error answer: the status, a well-formed body, and one of ``codes`` in it.

    Every error must have an upper-case ``code`` the spec knows and a string ``message`` when
    present. Returns the first matching error so a test can look at its message or detail.
    """
    statuses = {status} if isinstance(status, int) else set(status)
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url}: expected {sorted(statuses)}, "
        f"got {response.status_code}: {response.text[:500]}"
    )
    if response.request.method == "HEAD":
        return {}
    if registry_target() == "reference" and not error_codes(response):
        return {}  # the spec lets a 4xx body be in any format; moorage always answers in OCI JSON
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    for error in body["errors"]:
        assert re.fullmatch(r"[A-Z_]+", str(error.get("code"))), error
        assert error["code"] in KNOWN_ERROR_CODES, f"code outside the spec: {error}"
        assert isinstance(error.get("message", ""), str), error
    matching = [error for error in body["errors"] if error["code"] in codes]
    assert matching, f"expected one of {codes}, got {error_codes(response)}"
    return dict(matching[0])


def assert_digest_header_matches(response: httpx.Response, content: bytes) -> None:
    """``Docker-Content-Digest`` must be a digest of ``content`` (in whatever algorithm it names)."""
    header = response.headers.get("Docker-Content-Digest", "")
    algorithm = header.split(":", 1)[0]
    assert algorithm in ("sha256", "sha512"), f"Docker-Content-Digest {header!r}"
    assert header == digest_of(content, algorithm), f"Docker-Content-Digest {header!r} does not match"


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string (keeping what the server put there)."""
    return str(httpx.URL(url).copy_merge_params(params))


class OciClient:
    """Raw OCI distribution calls against one server; ``http`` is the underlying httpx client."""

    def __init__(self, server: ServerProcess, *, timeout: float = 30.0, auth: RegistryTokenAuth | None = None) -> None:
        self.server = server
        credentials = registry_credentials(server)
        self.auth = auth or (RegistryTokenAuth(*credentials) if credentials else None)
        self.http = httpx.Client(base_url=server.base_url, timeout=timeout, auth=self.auth)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def __enter__(self) -> OciClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def absolute(self, location: str) -> str:
        """An absolute URL for a ``Location`` header, which may be relative."""
        return str(httpx.URL(self.server.base_url + "/").join(location))

    def auth_headers(self, repo: str) -> dict[str, str]:
        """Headers that authorize a hand-made request on ``repo`` (for raw-socket tests)."""
        if self.auth is None:
            return {}
        self.http.get(f"/v2/{repo}/tags/list")  # answers a challenge once, caching the token
        return self.auth.headers_for(httpx.URL(f"{self.server.base_url}/v2/{repo}/tags/list"))

    # --- blobs ------------------------------------------------------------------------

    def start_upload(self, repo: str) -> str:
        """Open an upload session (POST, empty body) and return its absolute location."""
        response = self.http.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        assert response.status_code == 202, response.text
        assert response.headers.get("Location"), "POST upload answered without a Location"
        return self.absolute(response.headers["Location"])

    def push_blob(self, repo: str, blob: Blob | bytes) -> str:
        """Upload a blob with POST then a single PUT; returns its digest."""
        blob = blob if isinstance(blob, Blob) else Blob("application/octet-stream", blob)
        location = self.start_upload(repo)
        response = self.http.put(
            with_query(location, digest=blob.digest),
            content=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 201, f"blob PUT: {response.status_code} {response.text}"
        return blob.digest

    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD the blob; True on 200, False on 404, anything else fails the test."""
        response = self.http.head(f"/v2/{repo}/blobs/{digest}")
        assert response.status_code in (200, 404), f"HEAD blob: {response.status_code}"
        return response.status_code == 200

    # --- manifests ----------------------------------------------------------------------

    def put_manifest(
        self, repo: str, reference: str, manifest: Blob | bytes, content_type: str | None = None
    ) -> httpx.Response:
        """PUT a manifest under a tag or digest with its media type as Content-Type."""
        data = manifest.data if isinstance(manifest, Blob) else manifest
        media_type = content_type or (manifest.media_type if isinstance(manifest, Blob) else OCI_MANIFEST)
        return self.http.put(f"/v2/{repo}/manifests/{reference}", content=data, headers={"Content-Type": media_type})

    def get_manifest(self, repo: str, reference: str, accept: str = ACCEPT_ALL_MANIFESTS) -> httpx.Response:
        """GET a manifest, accepting every manifest type the suite uses unless told otherwise."""
        return self.http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})

    def head_manifest(self, repo: str, reference: str, accept: str = ACCEPT_ALL_MANIFESTS) -> httpx.Response:
        """HEAD a manifest."""
        return self.http.head(f"/v2/{repo}/manifests/{reference}", headers={"Accept": accept})

    def push(self, repo: str, content: Content, tag: str | None = None) -> str:
        """Push every blob, then every manifest (children first, by digest), then tag the top one."""
        for blob in content.blobs():
            if not self.blob_exists(repo, blob.digest):
                self.push_blob(repo, blob)
        manifests = content.manifests()
        for manifest in manifests:
            reference = tag if (manifest is manifests[-1] and tag) else manifest.digest
            response = self.put_manifest(repo, reference, manifest)
            assert response.status_code == 201, f"manifest PUT {reference}: {response.text}"
        return content.digest

    # --- listing ----------------------------------------------------------------------

    def tags(self, repo: str, **params: str) -> httpx.Response:
        """GET the tag list with optional ``n`` / ``last``."""
        return self.http.get(f"/v2/{repo}/tags/list", params=params)

    def referrers(self, repo: str, digest: str, **params: str) -> httpx.Response:
        """GET the referrers of ``digest`` with optional ``artifactType``."""
        return self.http.get(f"/v2/{repo}/referrers/{digest}", params=params)


def next_link(response: httpx.Response) -> str | None:
    """The target of a ``Link: <...>; rel="next"`` header, or None."""
    header = response.headers.get("Link")
    if not header:
        return None
    for part in header.split(","):
        match = re.match(r'\s*<([^>]*)>\s*;\s*rel="?next"?', part)
        if match:
            return match.group(1)
    return None


def open_truncated(
    server: ServerProcess,
    method: str,
    target: str,
    body: bytes,
    declared_length: int,
    headers: dict[str, str] | None = None,
) -> socket.socket:
    """Start a request announcing ``declared_length`` bytes and send only ``body``; the caller
    decides when the connection dies (close it, or kill the server first).

    ``target`` is an absolute URL or a path; only its path and query are sent.
    """
    url = httpx.URL(server.base_url + "/").join(target)
    lines = [
        f"{method} {url.raw_path.decode()} HTTP/1.1",
        f"Host: {server.address}",
        "Content-Type: application/octet-stream",
        f"Content-Length: {declared_length}",
    ]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def send_truncated(
    server: ServerProcess,
    method: str,
    target: str,
    body: bytes,
    declared_length: int,
    headers: dict[str, str] | None = None,
) -> bytes:
    """Send a request that promises ``declared_length`` bytes, deliver ``body``, then hang up,
    as a client dying mid-upload would. Returns whatever the server answered before closing
    (often nothing); a 401/403 there means the test did not reach the upload at all."""
    received = b""
    with open_truncated(server, method, target, body, declared_length, headers) as sock:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionError):
            pass
    status_line = received.split(b"\r\n", 1)[0]
    assert not re.match(rb"HTTP/1\.1 40[13]", status_line), f"not authorized: {status_line!r}"
    return received
