"""Blob GETs sent by nginx (``MOORAGE_STORAGE__ACCEL_REDIRECT_PREFIX``): moorage authorizes the read and
answers ``X-Accel-Redirect``; the shipped site file's internal location sends the file with sendfile.

One moorage (SQLite, filesystem storage) and one Debian nginx with ``deploy/nginx/moorage.conf`` for
the module; blobs of a few MiB. What a tenant could try is here too: asking for the internal location
directly, sending ``X-Accel-Redirect`` in a request, reading a blob it may not read, naming a path
outside the blobs directory."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from moorage.settings import Settings
from moorage.settings.storage import StorageSettings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, NO_ADVISORY_SOURCES
from tests.oci.oci_client import OciClient, unique_repo
from tests.oci.registry_auth import RegistryTokenAuth
from tests.support import nginx, skopeo
from tests.support.accounts import create_user
from tests.support.ocilayout import image, layer
from tests.support.servers import ServerProcess, free_port, start_moorage
from tests.support.tools import require_tool

pytestmark = [
    pytest.mark.moorage_extra("blob GETs handed to nginx with X-Accel-Redirect"),
    pytest.mark.requires_tool(nginx.NGINX_BIN),
]

PREFIX = "/_moorage/blobs"
"""The shipped site file's internal location."""
BLOB_BYTES = 3 << 20


@dataclass(frozen=True)
class Edge:
    """moorage behind nginx, and a blob pushed to ``repo``."""

    moorage: ServerProcess
    proxy: nginx.Nginx
    repo: str
    data: bytes
    digest: str
    blobs_root: Path

    def client(self, auth: httpx.Auth | None = None) -> httpx.Client:
        """A client of nginx (the admin's token auth unless ``auth``)."""
        credentials = auth or RegistryTokenAuth(ADMIN_USER, ADMIN_PASSWORD)
        return httpx.Client(base_url=self.proxy.base_url, auth=credentials, timeout=60)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    require_tool(nginx.NGINX_BIN)
    directory = tmp_path_factory.mktemp("accel")
    data_dir = directory / "moorage"
    data_dir.mkdir()
    port = free_port()
    env = {
        "MOORAGE_DATABASE_URL": f"sqlite:///{data_dir / 'moorage.db'}",
        "MOORAGE_DATA_DIR": str(data_dir),
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_AUTH__ADMIN_USER": ADMIN_USER,
        "MOORAGE_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MOORAGE_STORAGE__ACCEL_REDIRECT_PREFIX": PREFIX,
        "MOORAGE_EXTERNAL_URL": f"http://127.0.0.1:{port}",
        "MOORAGE_TRUSTED_PROXIES": "127.0.0.1",
        **NO_ADVISORY_SOURCES,
    }
    server = start_moorage(data_dir, env=env)
    blobs_root = data_dir / "storage" / "blobs"
    try:
        proxy = nginx.start(directory / "nginx", port=port, upstreams=[server.address], tls=None, blobs_root=blobs_root)
    except BaseException:
        server.stop()
        raise
    try:
        repo = unique_repo("accel")
        data = os.urandom(BLOB_BYTES)
        with OciClient(server) as oci:
            digest = oci.push_blob(repo, data)
        yield Edge(server, proxy, repo, data, digest, blobs_root)
    finally:
        proxy.stop()
        server.stop()


def test_moorage_answers_an_authorized_blob_get_with_the_internal_location_only(edge: Edge) -> None:
    """Asked directly, moorage sends no bytes: an empty 200 naming the file under the blobs root."""
    with OciClient(edge.moorage) as oci:
        response = oci.http.get(f"/v2/{edge.repo}/blobs/{edge.digest}")
    algorithm, hex_ = edge.digest.split(":")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["X-Accel-Redirect"] == f"{PREFIX}/{algorithm}/{hex_[:2]}/{hex_}/data"
    assert (edge.blobs_root / algorithm / hex_[:2] / hex_ / "data").read_bytes() == edge.data


def test_a_client_reaching_moorage_directly_gets_the_bytes(edge: Edge) -> None:
    """Only the trusted proxy (127.0.0.1 here) is answered with the internal location: a peer that is
    not one (127.0.0.2, a client that bypasses nginx) gets the blob from moorage itself."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    auth = RegistryTokenAuth(ADMIN_USER, ADMIN_PASSWORD)
    with httpx.Client(base_url=f"http://{edge.moorage.address}", transport=transport, auth=auth, timeout=60) as client:
        response = client.get(f"/v2/{edge.repo}/blobs/{edge.digest}")
    assert response.status_code == 200 and response.content == edge.data
    assert "X-Accel-Redirect" not in response.headers


def test_nginx_sends_the_blob_with_the_registry_headers(edge: Edge) -> None:
    with edge.client() as client:
        response = client.get(f"/v2/{edge.repo}/blobs/{edge.digest}")
        head = client.head(f"/v2/{edge.repo}/blobs/{edge.digest}")
    assert response.status_code == 200 and response.content == edge.data
    assert response.headers["Docker-Content-Digest"] == edge.digest
    assert response.headers["ETag"] == f'"{edge.digest}"'
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == str(BLOB_BYTES)
    assert response.headers.get_list("Cache-Control") == ["max-age=31536000"]
    assert response.headers["Accept-Ranges"] == "bytes"
    assert "X-Accel-Redirect" not in response.headers
    # HEAD is moorage's own answer (no redirect), with the same headers.
    assert head.status_code == 200 and head.headers["Content-Length"] == str(BLOB_BYTES)
    assert head.headers["Docker-Content-Digest"] == edge.digest


def test_nginx_serves_ranges_of_the_redirected_file(edge: Edge) -> None:
    url = f"/v2/{edge.repo}/blobs/{edge.digest}"
    with edge.client() as client:
        middle = client.get(url, headers={"Range": "bytes=1000-1999999"})
        tail = client.get(url, headers={"Range": "bytes=-10"})
        past = client.get(url, headers={"Range": f"bytes={BLOB_BYTES}-"})
    assert middle.status_code == 206 and middle.content == edge.data[1000:2000000]
    assert middle.headers["Content-Range"] == f"bytes 1000-1999999/{BLOB_BYTES}"
    assert middle.headers["Docker-Content-Digest"] == edge.digest
    assert tail.status_code == 206 and tail.content == edge.data[-10:]
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{BLOB_BYTES}"


def test_the_tls_site_sends_the_blob_and_its_ranges_too(edge: Edge, tmp_path: Path) -> None:
    """The shipped site as deployed (TLS, kernel TLS asked for; this kernel has none: OpenSSL encrypts)."""
    tls = nginx.self_signed(tmp_path / "tls")
    proxy = nginx.start(
        tmp_path / "nginx", port=free_port(), upstreams=[edge.moorage.address], tls=tls, blobs_root=edge.blobs_root
    )
    try:
        url = f"{proxy.base_url}/v2/{edge.repo}/blobs/{edge.digest}"
        auth = RegistryTokenAuth(ADMIN_USER, ADMIN_PASSWORD)
        with httpx.Client(auth=auth, timeout=60, verify=ssl.create_default_context(cafile=tls.certificate)) as client:
            whole = client.get(url)
            part = client.get(url, headers={"Range": "bytes=5-9"})
    finally:
        proxy.stop()
    assert whole.status_code == 200 and whole.content == edge.data
    assert whole.headers["Docker-Content-Digest"] == edge.digest
    assert part.status_code == 206 and part.content == edge.data[5:10]


def test_the_internal_location_is_not_reachable_from_outside(edge: Edge) -> None:
    algorithm, hex_ = edge.digest.split(":")
    internal = f"{PREFIX}/{algorithm}/{hex_[:2]}/{hex_}/data"
    with edge.client() as client:
        for path in (internal, internal.replace("/data", "/%64ata"), f"{PREFIX}/{algorithm}/{hex_[:2]}/{hex_}/"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert edge.data[:4096] not in response.content


def test_a_request_header_x_accel_redirect_changes_nothing(edge: Edge) -> None:
    """nginx reads X-Accel-Redirect from moorage's answers only: a client's goes nowhere."""
    algorithm, hex_ = edge.digest.split(":")
    other = os.urandom(4096)
    with OciClient(edge.moorage) as oci:
        other_digest = oci.push_blob(edge.repo, other)
    internal = f"{PREFIX}/{algorithm}/{hex_[:2]}/{hex_}/data"
    with edge.client() as client:
        blob = client.get(f"/v2/{edge.repo}/blobs/{other_digest}", headers={"X-Accel-Redirect": internal})
        catalog = client.get("/v2/", headers={"X-Accel-Redirect": internal})
        tags = client.get(f"/v2/{edge.repo}/tags/list", headers={"X-Accel-Redirect": internal})
    assert blob.status_code == 200 and blob.content == other
    assert blob.headers["Docker-Content-Digest"] == other_digest
    for response in (catalog, tags):
        assert edge.data[:4096] not in response.content


def test_a_file_gone_after_moorage_answered_is_the_registry_s_blob_unknown(edge: Edge) -> None:
    """The garbage collector may remove a file between moorage's answer and nginx's open."""
    data = os.urandom(4096)
    with OciClient(edge.moorage) as oci:
        digest = oci.push_blob(edge.repo, data)
    algorithm, hex_ = digest.split(":")
    (edge.blobs_root / algorithm / hex_[:2] / hex_ / "data").unlink()
    with edge.client() as client:
        response = client.get(f"/v2/{edge.repo}/blobs/{digest}")
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_a_blob_the_principal_may_not_read_is_refused_before_any_redirect(edge: Edge) -> None:
    url = f"/v2/{edge.repo}/blobs/{edge.digest}"
    outsider = create_user(edge.moorage, "accel-outsider")
    with httpx.Client(base_url=edge.proxy.base_url, timeout=30) as anonymous:
        unauthenticated = anonymous.get(url)
    with edge.client(RegistryTokenAuth(outsider.name, outsider.password)) as client:
        foreign = client.get(url)
    # A repository of the same owner that never linked the blob: moorage's 404, not the file.
    with OciClient(edge.moorage) as oci:
        oci.push_blob(sibling := unique_repo("accel-sibling"), b"something else")
    with edge.client() as client:
        unlinked = client.get(f"/v2/{sibling}/blobs/{edge.digest}")
    assert unauthenticated.status_code == 401
    assert foreign.status_code in (401, 403, 404)
    assert unlinked.status_code == 404 and unlinked.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    for response in (unauthenticated, foreign, unlinked):
        assert edge.data[:4096] not in response.content and "X-Accel-Redirect" not in response.headers


@pytest.mark.parametrize(
    "reference",
    [
        "sha256:..%2F..%2F..%2Fmoorage.db",
        "sha256:%2E%2E",
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 63 + "/",
        "sha512:..",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
    ],
)
def test_no_path_outside_the_blobs_directory_can_be_named(edge: Edge, reference: str) -> None:
    """moorage builds the internal path from a verified digest only; anything else is refused."""
    database = (edge.moorage.data_dir / "moorage.db").read_bytes()[:16]
    with edge.client() as client:
        response = client.get(f"/v2/{edge.repo}/blobs/{reference}")
    assert response.status_code in (400, 404), response.status_code
    assert database not in response.content and "X-Accel-Redirect" not in response.headers


def test_skopeo_pulls_an_image_through_nginx(edge: Edge, tmp_path: Path) -> None:
    require_tool("skopeo")
    content = image([layer(os.urandom(1 << 20))])  # gzip: skopeo keeps it as it is
    repo = unique_repo("accel-skopeo")
    with OciClient(edge.moorage) as oci:
        oci.push(repo, content, tag="v1")
    skopeo.pull(f"{edge.proxy.address}/{repo}:v1", tmp_path / "pulled", "v1", creds=(ADMIN_USER, ADMIN_PASSWORD))
    for blob in content.blobs():
        algorithm, hex_ = blob.digest.split(":")
        assert (tmp_path / "pulled" / "blobs" / algorithm / hex_).read_bytes() == blob.data
    upstream = edge.proxy.access_log()
    assert f"GET /v2/{repo}/blobs/{content.layers[0].digest}" in upstream


def test_the_prefix_must_be_a_plain_absolute_path_and_needs_the_filesystem_driver() -> None:
    assert StorageSettings(accel_redirect_prefix="/_moorage/blobs").accel_redirect_prefix == "/_moorage/blobs"
    for bad in ("_moorage/blobs", "/_moorage/blobs/", "/a/../b", "/a b", "/a\r\nX-Evil: 1", "/a/./b", "/a?x=1"):
        with pytest.raises(ValidationError):
            StorageSettings(accel_redirect_prefix=bad)
    with pytest.raises(ValidationError, match="s3_redirect"):
        StorageSettings(driver="s3", s3_bucket="b", accel_redirect_prefix="/_moorage/blobs")
    # The redirect is answered to the trusted proxy only, so there must be one.
    storage = StorageSettings(accel_redirect_prefix="/_moorage/blobs")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(storage=storage)
    assert Settings(storage=storage, trusted_proxies="127.0.0.1").storage.accel_redirect_prefix == PREFIX


def test_the_internal_location_sends_files_with_sendfile() -> None:
    """What docs/deployment.md promises of the internal location (the tests above show its behaviour)."""
    site = nginx.SITE_TEMPLATE.read_text()
    directives = "\n".join(line.split("#", 1)[0].strip() for line in site.splitlines())
    internal = directives.split(f'location ~ "^{PREFIX}/', 1)[1].split('$" {', 1)[1].split("\n}\n", 1)[0]
    for directive in ("internal;", "sendfile on;", "tcp_nopush on;", "sendfile_max_chunk 2m;", "etag off;"):
        assert directive in internal
    assert "alias @BLOBS_ROOT@/$blob_algorithm/$blob_prefix/$blob_hex/data;" in internal
    catch_all = directives.split("location / {", 1)[1].split("}", 1)[0]
    assert "proxy_ignore_headers X-Accel-Redirect;" in catch_all
