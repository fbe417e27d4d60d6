"""Storage and repository-count quotas, enforced (SQLite and PostgreSQL), against a server of this
module's own with every quota set: usage is the sum of the distinct blobs of each organization
(``ListQuotas`` and the overview say so); a push that would pass a quota is refused as OCI ``DENIED``
before its bytes are kept, whichever way the bytes come (monolithic, a chunk with its length, a
stream without one, a mount) and with skopeo; a repository one too many is refused on push and by
``CreateRepo``; and sixteen concurrent pushes together never pass the quota (the bound is 0 bytes).

The account quotas are checked with an account of their own; the other tests share one account and
delete what they pushed, so it stays below them (accounts are made with the ``moorage admin`` CLI,
which costs seconds each)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    DeleteRepoRequest,
    ListQuotasRequest,
    ShowDomainOverviewRequest,
)

from moorage.storage import paths
from tests.api.swr.conftest import Swr, assert_sdk_types, assert_swr_error, connect
from tests.conftest import DATABASES, MoorageFactory, _factory
from tests.support import skopeo
from tests.support.accounts import create_user
from tests.support.servers import ServerProcess
from tests.support.swr_images import Blob, Image, image, registry_client, write_layout
from tests.support.upload_urls import closing_url

NAMESPACE_BYTES = 1_000_000
ACCOUNT_BYTES = 3_000_000
NAMESPACE_REPOSITORIES = 3
ACCOUNT_REPOSITORIES = 12
QUOTAS = {
    "MOORAGE_QUOTA__NAMESPACE_STORAGE_BYTES": str(NAMESPACE_BYTES),
    "MOORAGE_QUOTA__ACCOUNT_STORAGE_BYTES": str(ACCOUNT_BYTES),
    "MOORAGE_QUOTA__NAMESPACE_REPOSITORIES": str(NAMESPACE_REPOSITORIES),
    "MOORAGE_QUOTA__ACCOUNT_REPOSITORIES": str(ACCOUNT_REPOSITORIES),
}
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module", params=DATABASES)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per database with every quota set."""
    factory: MoorageFactory
    factory, started = _factory(request, tmp_path_factory.mktemp("quotas"))
    try:
        yield factory(database=request.param, env=QUOTAS)
    finally:
        for process in started:
            process.stop()


def new_tenant(server: ServerProcess) -> Swr:
    """A new account (domain) with its administrator, and its SDK and registry access."""
    return connect(server, create_user(server, f"quota-{secrets.token_hex(3)}", admin=True))


@pytest.fixture(scope="module")
def tenant(server: ServerProcess) -> Swr:
    """The account the organization-level tests share (they stay below its account quotas)."""
    return new_tenant(server)


def organization(tenant: Swr, name: str | None = None) -> str:
    """A new organization of the tenant's account; its name."""
    name = name or f"q{secrets.token_hex(4)}"
    tenant.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=name)))
    return name


def digest_of(data: bytes) -> str:
    """``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def post_blob(registry: httpx.Client, repository: str, data: bytes) -> httpx.Response:
    """A monolithic upload (``POST ?digest=``)."""
    return registry.post(
        f"/v2/{repository}/blobs/uploads/", params={"digest": digest_of(data)}, content=data, headers=OCTET
    )


def session(registry: httpx.Client, repository: str) -> httpx.Response:
    """``POST /blobs/uploads/``: a new session (its ``Location``), or the refusal."""
    return registry.post(f"/v2/{repository}/blobs/uploads/")


def session_blob(registry: httpx.Client, repository: str, data: bytes, *, declared: bool) -> httpx.Response:
    """A session, one PATCH (with Content-Length, or a chunked stream without), and the closing PUT;
    the first answer that is not a success."""
    started = session(registry, repository)
    if started.status_code != 202:
        return started
    location = started.headers["location"]
    body: Any = data if declared else (data[i : i + 65536] for i in range(0, len(data), 65536))
    patched = registry.patch(location, content=body, headers=OCTET)
    if patched.status_code != 202:
        return patched
    return registry.put(closing_url(patched.headers["location"], digest_of(data)))


def assert_denied(answer: httpx.Response, *words: str) -> None:
    """OCI ``DENIED`` (403) whose message holds ``words``."""
    assert answer.status_code == 403, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == "DENIED", error
    for word in words:
        assert word in error["message"], error["message"]


def quotas(tenant: Swr) -> dict[str, tuple[int, int, str]]:
    """``ListQuotas``: key -> (limit, used, unit)."""
    answer = tenant.sdk().list_quotas(ListQuotasRequest())
    assert_sdk_types(answer)
    return {q.quota_key: (q.quota_limit, q.used, q.unit) for q in answer.quotas}


def stored_upload_bytes(server: ServerProcess, upload_location: str) -> int:
    """Bytes the storage holds for a session (0 when it holds no file)."""
    upload_id = upload_location.rstrip("/").rsplit("/", 1)[1]
    path = server.data_dir / "storage" / paths.upload_data(upload_id)
    return path.stat().st_size if path.exists() else 0


def blob_stored(server: ServerProcess, data: bytes) -> bool:
    """Whether the blob store holds a blob of these bytes."""
    from moorage.domain.digests import Digest

    return (server.data_dir / "storage" / paths.blob_data(Digest.parse(digest_of(data)))).exists()


def push_image(registry: httpx.Client, repository: str, tag: str, img: Image) -> httpx.Response:
    """Upload ``img``'s blobs that the repository lacks, then its manifest; the first refusal or the
    manifest's answer."""
    for blob in img.blobs:
        if registry.head(f"/v2/{repository}/blobs/{blob.digest}").status_code == 200:
            continue
        answer = post_blob(registry, repository, blob.data)
        if answer.status_code != 201:
            return answer
    return registry.put(
        f"/v2/{repository}/manifests/{tag}", content=img.manifest, headers={"Content-Type": img.media_type}
    )


# Storage ---------------------------------------------------------------------------------------------
def test_a_blob_that_does_not_fit_is_refused_before_it_is_kept(tenant: Swr, server: ServerProcess) -> None:
    full, other = organization(tenant), organization(tenant)
    big = os.urandom(600_000)
    with tenant.registry() as registry:
        assert post_blob(registry, f"{full}/app", big).status_code == 201
        elsewhere = os.urandom(600_000)
        assert post_blob(registry, f"{other}/app", elsewhere).status_code == 201
        for attempt in ("monolithic", "declared chunk", "stream"):
            data = os.urandom(500_000)
            if attempt == "monolithic":
                refused = post_blob(registry, f"{full}/app", data)
            else:
                refused = session_blob(registry, f"{full}/app", data, declared=attempt == "declared chunk")
            assert_denied(refused, f"organization {full!r}", "storage quota of 1,000,000 bytes", "600,000 bytes stored")
            assert not blob_stored(server, data), attempt
            assert registry.head(f"/v2/{full}/app/blobs/{digest_of(data)}").status_code == 404

        # A session refused mid-way keeps what it had, and the storage holds no more than that.
        started = session(registry, f"{full}/app")
        location = started.headers["location"]
        first = registry.patch(location, content=os.urandom(300_000), headers=OCTET)
        assert first.status_code == 202, first.text
        refused = registry.patch(first.headers["location"], content=os.urandom(200_000), headers=OCTET)
        assert_denied(refused, "being uploaded")
        assert registry.get(location).headers["range"] == "0-299999"
        assert stored_upload_bytes(server, location) == 300_000
        assert registry.delete(location).status_code == 204  # abandoning it gives the room back

        # A mount costs the blob's size when the organization does not hold it yet, nothing when it does.
        mounted = registry.post(
            f"/v2/{full}/app/blobs/uploads/", params={"mount": digest_of(elsewhere), "from": f"{other}/app"}
        )
        assert_denied(mounted, f"organization {full!r}")
        same = registry.post(
            f"/v2/{full}/tools/blobs/uploads/", params={"mount": digest_of(big), "from": f"{full}/app"}
        )
        assert same.status_code == 201, same.text
        assert post_blob(registry, f"{full}/tools", big).status_code == 201  # already held: free
        # Exactly the room that is left still fits, one byte more does not.
        room = NAMESPACE_BYTES - 600_000
        assert_denied(post_blob(registry, f"{full}/app", os.urandom(room + 1)))
        assert session_blob(registry, f"{full}/app", os.urandom(room), declared=False).status_code == 201
        assert_denied(session(registry, f"{full}/app"), "used up")
    for name, repository in ((full, "app"), (full, "tools"), (other, "app")):  # the account's room back
        tenant.sdk().delete_repo(DeleteRepoRequest(namespace=name, repository=repository))


def test_skopeo_push_over_the_quota_is_refused(tenant: Swr, tmp_path: Path) -> None:
    name = organization(tenant)
    small = image([{"small.bin": os.urandom(100_000)}], label="small")
    large = image([{"large.bin": os.urandom(1_200_000)}], label="large")
    layout = write_layout(tmp_path / "layout", {"small": small, "large": large})
    creds = (tenant.account.name, tenant.account.password)
    address = tenant.server.address
    skopeo.push(layout, "small", f"{address}/{name}/app:small", creds=creds)
    refused = skopeo.push(layout, "large", f"{address}/{name}/app:large", creds=creds, check=False)
    assert refused.returncode != 0
    assert "denied" in refused.stderr and "storage quota" in refused.stderr, refused.stderr
    with tenant.registry() as registry:
        assert registry.head(f"/v2/{name}/app/blobs/{large.blobs[1].digest}").status_code == 404
        assert registry.head(f"/v2/{name}/app/blobs/{small.blobs[1].digest}").status_code == 200


# Concurrency -----------------------------------------------------------------------------------------
def _race(tenant: Swr, name: str, ways: tuple[str, ...], pushers: int, size: int) -> tuple[list[int], int]:
    """``pushers`` distinct blobs of ``size`` bytes pushed at once into ``name/race`` by ``ways`` in
    turn; (the answers' statuses, the bytes the organization holds afterwards)."""
    blobs = [os.urandom(size) for _ in range(pushers)]
    before = quotas(tenant)["storage"][1]

    def push(index: int) -> int:
        data, way = blobs[index], ways[index % len(ways)]
        with registry_client(tenant.server.base_url, tenant.account.name, tenant.account.password) as registry:
            if way == "monolithic":
                return post_blob(registry, f"{name}/race", data).status_code
            if way == "monolithic-stream":
                return registry.post(
                    f"/v2/{name}/race/blobs/uploads/",
                    params={"digest": digest_of(data)},
                    headers=OCTET,
                    content=(data[i : i + 32768] for i in range(0, len(data), 32768)),
                ).status_code
            return session_blob(registry, f"{name}/race", data, declared=way == "declared").status_code

    with ThreadPoolExecutor(pushers) as pool:
        statuses = list(pool.map(push, range(pushers)))
    assert set(statuses) <= {201, 403}, statuses
    used = quotas(tenant)["storage"][1] - before
    assert used == statuses.count(201) * size
    # Every reservation was given back: exactly the room the quota leaves can still be pushed.
    with tenant.registry() as registry:
        assert (
            session_blob(registry, f"{name}/race", os.urandom(NAMESPACE_BYTES - used), declared=True).status_code == 201
        )
    tenant.sdk().delete_repo(DeleteRepoRequest(namespace=name, repository="race"))  # the account's room back
    return statuses, used


def test_concurrent_pushes_never_pass_the_quota(tenant: Swr) -> None:
    """Pushers of distinct 150,000-byte blobs into organizations of 1,000,000 bytes, all at once:
    together they never pass the quota. Pushes that declare their length reserve exactly it, so
    those fill the quota as far as whole blobs go (6 of 12); streams reserve room ahead of their
    bytes as they go, which may turn away a push that would have fitted, never let one past."""
    size = 150_000
    statuses, used = _race(tenant, organization(tenant), ("monolithic", "declared"), 12, size)
    assert used == 6 * size, statuses
    statuses, used = _race(
        tenant, organization(tenant), ("monolithic", "declared", "stream", "monolithic-stream"), 16, size
    )
    assert 0 < used <= NAMESPACE_BYTES and 403 in statuses, statuses


def test_manifests_are_not_charged(tenant: Swr) -> None:
    """Only blobs count: an image made of a 2-byte config and a manifest uses 2 bytes."""
    name = organization(tenant)
    before = quotas(tenant)["storage"][1]
    config = Blob("application/vnd.oci.image.config.v1+json", b"{}")
    with tenant.registry() as registry:
        assert post_blob(registry, f"{name}/app", config.data).status_code == 201
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config.descriptor(),
                "layers": [],
            }
        ).encode()
        assert (
            registry.put(
                f"/v2/{name}/app/manifests/v1",
                content=manifest,
                headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            ).status_code
            == 201
        )
    assert quotas(tenant)["storage"][1] == before + 2


# The account's quotas and usage ---------------------------------------------------------------------
def test_account_usage_and_quotas(server: ServerProcess) -> None:
    """An account of its own: its usage is the sum of each organization's distinct blobs; one
    repository too many (for an organization, then for the account) is refused on push and by
    ``CreateRepo``; the account's storage quota counts every organization."""
    tenant = new_tenant(server)
    sdk = tenant.sdk()
    first, second = organization(tenant), organization(tenant)
    shared = {"shared.bin": os.urandom(40_000)}
    one = image([shared, {"one.bin": os.urandom(30_000)}], label="one")
    two = image([shared, {"two.bin": os.urandom(20_000)}], label="two")
    with tenant.registry() as registry:
        for repository, img in ((f"{first}/app", one), (f"{first}/tools", two), (f"{second}/app", one)):
            assert push_image(registry, repository, "v1", img).status_code == 201
    in_first = {b.digest: len(b.data) for b in (*one.blobs, *two.blobs)}  # the shared layer once
    in_second = {b.digest: len(b.data) for b in one.blobs}
    expected = sum(in_first.values()) + sum(in_second.values())
    assert len(in_first) == 5 and expected < sum(len(b.data) for b in (*one.blobs, *two.blobs, *one.blobs))
    assert quotas(tenant) == {
        "namespace": (100, 2, ""),
        "repository": (ACCOUNT_REPOSITORIES, 3, ""),
        "storage": (ACCOUNT_BYTES, expected, "B"),
    }
    assert sdk.show_domain_overview(ShowDomainOverviewRequest()).store_space == expected
    sdk.delete_repo(DeleteRepoRequest(namespace=second, repository="app"))
    assert quotas(tenant)["storage"] == (ACCOUNT_BYTES, sum(in_first.values()), "B")
    assert quotas(tenant)["repository"] == (ACCOUNT_REPOSITORIES, 2, "")

    # Repositories: the organization's quota (3), then the account's (12).
    empty_index = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    ).encode()
    index_type = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
    with tenant.registry() as registry:
        assert post_blob(registry, f"{first}/c", os.urandom(1000)).status_code == 201
        assert_denied(
            session(registry, f"{first}/d"), f"repository {first}/d cannot be created", "already has 3 of its 3"
        )
        assert_denied(post_blob(registry, f"{first}/d", os.urandom(1000)), "already has 3 of its 3")
        assert_denied(registry.put(f"/v2/{first}/d/manifests/v1", content=empty_index, headers=index_type))
        # A mount of a blob the source lacks falls back to a session, which is refused too.
        assert_denied(
            registry.post(f"/v2/{first}/d/blobs/uploads/", params={"mount": digest_of(b"0"), "from": f"{first}/app"})
        )
        with pytest.raises(ClientRequestException) as caught:
            sdk.create_repo(CreateRepoRequest(namespace=first, body=CreateRepoRequestBody(repository="d")))
        assert_swr_error(caught, 400, "SVCSTG.SWR.4000098")
        more = [second, organization(tenant), organization(tenant)]
        assert registry.put(f"/v2/{second}/r0/manifests/v1", content=empty_index, headers=index_type).status_code == 201
        for name in more:
            for repository in ("r0", "r1", "r2"):
                if (name, repository) != (second, "r0"):
                    sdk.create_repo(
                        CreateRepoRequest(namespace=name, body=CreateRepoRequestBody(repository=repository))
                    )
        assert quotas(tenant)["repository"] == (ACCOUNT_REPOSITORIES, 12, "")
        last = organization(tenant)
        assert_denied(post_blob(registry, f"{last}/x", os.urandom(10)), "the account owning", "12 of its 12")
        with pytest.raises(ClientRequestException) as caught:
            sdk.create_repo(CreateRepoRequest(namespace=last, body=CreateRepoRequestBody(repository="x")))
        assert_swr_error(caught, 400, "SVCSTG.SWR.4000098")

        # Storage: 900,000 bytes in three organizations, then the account (3,000,000) binds before the
        # first organization's own quota does.
        for name in more:
            assert post_blob(registry, f"{name}/r1", os.urandom(900_000)).status_code == 201
        stored = quotas(tenant)["storage"][1]
        room = ACCOUNT_BYTES - stored
        assert 0 < room < NAMESPACE_BYTES - sum(in_first.values())
        assert_denied(
            post_blob(registry, f"{first}/app", os.urandom(room + 1)),
            "the account owning",
            "storage quota of 3,000,000 bytes",
            f"{stored:,} bytes stored",
        )
        assert session_blob(registry, f"{first}/app", os.urandom(room), declared=False).status_code == 201
    assert quotas(tenant)["storage"] == (ACCOUNT_BYTES, ACCOUNT_BYTES, "B")
