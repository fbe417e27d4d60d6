"""Shared-edition image synchronisation through the official SDK (CreateImageSyncRepo,
ListImageAutoSyncReposDetails, DeleteImageSyncRepo, CreateManualImageSyncRepo, ShowSyncJob) against
two moorage servers on loopback: the site under test (SQLite, then PostgreSQL) and its peer (the
"region" ``peer-1`` of ``MOORAGE_SYNC__PEERS``). A manual sync copies chosen tags; a skopeo push of a
multi-architecture index to a repository with an automatic rule reaches the peer within seconds with
the same digests; a tag the peer holds with another image is left alone without ``override``; bad
input is a 400 in SWR's format and stores nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateImageSyncRepoRequest,
    CreateImageSyncRepoRequestBody,
    CreateManualImageSyncRepoRequest,
    CreateManualImageSyncRepoRequestBody,
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    DeleteImageSyncRepoRequest,
    DeleteImageSyncRepoRequestBody,
    ListImageAutoSyncReposDetailsRequest,
    ListSyncRegionsRequest,
    ShowSyncJobRequest,
)

from tests.api.swr.conftest import ADMIN, Swr, assert_sdk_types, connect
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, DATABASES, MoorageFactory, SessionCache
from tests.support import skopeo
from tests.support.servers import ServerProcess
from tests.support.swr_images import Image, image, index, push, registry_client, write_layout

PEER = "peer-1"
CREDS = (ADMIN_USER, ADMIN_PASSWORD)


def _site_env(peer: ServerProcess) -> dict[str, str]:
    # The administrator's account signs in at the peer as its own user (``accounts``); the shared-user
    # form is covered in tests/services/test_image_sync_accounts.py.
    account = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
    peers = [{"region_id": PEER, "url": peer.base_url, "accounts": {ADMIN_USER: account}}]
    return {
        "MOORAGE_SYNC__PEERS": json.dumps(peers),
        "MOORAGE_SYNC__RETRY_BASE_SECONDS": "0.2",
        "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.0/8",  # the peer listens on loopback
        "MOORAGE_EVENTS__DISPATCH_INTERVAL_SECONDS": "0.1",
    }


@pytest.fixture(scope="module")
def peer(session_moorage_factory: MoorageFactory, session_cache: SessionCache) -> Swr:
    """The peer site (SQLite), shared by both databases' modules."""
    server = session_cache.get("sync-peer", lambda: session_moorage_factory(database="sqlite"))
    return session_cache.get(f"sync-peer-admin:{server.base_url}", lambda: connect(server, ADMIN))


@pytest.fixture(scope="module", params=DATABASES)
def site(
    request: pytest.FixtureRequest, peer: Swr, session_moorage_factory: MoorageFactory, session_cache: SessionCache
) -> Swr:
    """The site under test, with ``peer-1`` configured, on each database."""
    database = str(request.param)
    server = session_cache.get(
        f"sync-site:{database}", lambda: session_moorage_factory(database=database, env=_site_env(peer.server))
    )
    return session_cache.get(f"sync-site-admin:{server.base_url}", lambda: connect(server, ADMIN))


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _repository(site: Swr, *images: tuple[str, Image]) -> tuple[str, str]:
    """A new organization with repository ``app`` holding ``images`` (tag, image)."""
    namespace = _unique("sync")
    site.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=namespace)))
    with site.registry() as client:
        for tag, img in images:
            push(client, f"{namespace}/app", tag, img)
    return namespace, "app"


def _peer_namespace(peer: Swr, prefix: str) -> str:
    """A new organization at the peer (the target of a rule must exist there, as in SWR)."""
    name = _unique(prefix)
    peer.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=name)))
    return name


def _wait(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _peer_digest(peer: Swr, name: str, reference: str) -> str | None:
    with registry_client(peer.server.base_url, ADMIN_USER, ADMIN_PASSWORD) as client:
        answer = client.get(
            f"/v2/{name}/manifests/{reference}",
            headers={"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"},
        )
    return answer.headers.get("Docker-Content-Digest") if answer.status_code == 200 else None


def _jobs(site: Swr, namespace: str, repository: str, filter_: str = "limit::100|offset::0") -> Any:
    return site.sdk().show_sync_job(ShowSyncJobRequest(namespace=namespace, repository=repository, filter=filter_))


def _finished(site: Swr, namespace: str, repository: str, count: int) -> Any:
    def check() -> Any:
        listed = _jobs(site, namespace, repository)
        done = [j for j in listed.body if j.status not in ("waiting", "running")]
        return listed if len(done) >= count else None

    return _wait(check, what=f"{count} finished sync jobs")


def test_regions_list_the_peers(site: Swr) -> None:
    regions = site.sdk().list_sync_regions(ListSyncRegionsRequest())
    assert PEER in [r.region_id for r in regions.body]


def test_rules_create_list_delete(site: Swr) -> None:
    namespace, repository = _repository(site, ("1.0", image([{"a": b"rules"}], label=_unique("r"))))
    sdk = site.sdk()
    body = CreateImageSyncRepoRequestBody(
        remote_region_id=PEER, remote_namespace="mirror", sync_auto=True, override=False
    )
    sdk.create_image_sync_repo(CreateImageSyncRepoRequest(namespace=namespace, repository=repository, body=body))
    with pytest.raises(ClientRequestException) as caught:
        sdk.create_image_sync_repo(CreateImageSyncRepoRequest(namespace=namespace, repository=repository, body=body))
    assert caught.value.status_code == 409
    listed = sdk.list_image_auto_sync_repos_details(
        ListImageAutoSyncReposDetailsRequest(namespace=namespace, repository=repository)
    )
    assert len(listed.body) == 1
    rule = listed.body[0]
    assert_sdk_types(rule)
    assert (rule.namespace, rule.repo_name, rule.remote_region_id, rule.remote_namespace) == (
        namespace,
        repository,
        PEER,
        "mirror",
    )
    assert rule.sync_auto is True and rule.override is False and rule.created_at.endswith("Z")

    # bad input: an unknown region, a namespace the peer could not have; nothing is stored
    for region, remote in (("nowhere", "mirror"), (PEER, "Not_A-Namespace!")):
        bad = CreateImageSyncRepoRequestBody(remote_region_id=region, remote_namespace=remote)
        with pytest.raises(ClientRequestException) as caught:
            sdk.create_image_sync_repo(CreateImageSyncRepoRequest(namespace=namespace, repository=repository, body=bad))
        assert caught.value.status_code == 400, caught.value.error_msg
    assert (
        len(
            sdk.list_image_auto_sync_repos_details(
                ListImageAutoSyncReposDetailsRequest(namespace=namespace, repository=repository)
            ).body
        )
        == 1
    )

    gone = DeleteImageSyncRepoRequestBody(remote_region_id=PEER, remote_namespace="mirror")
    sdk.delete_image_sync_repo(DeleteImageSyncRepoRequest(namespace=namespace, repository=repository, body=gone))
    with pytest.raises(ClientRequestException) as caught:
        sdk.delete_image_sync_repo(DeleteImageSyncRepoRequest(namespace=namespace, repository=repository, body=gone))
    assert caught.value.status_code == 404
    assert (
        sdk.list_image_auto_sync_repos_details(
            ListImageAutoSyncReposDetailsRequest(namespace=namespace, repository=repository)
        ).body
        in (None, [])  # the SDK reads an empty list as no body
    )
    with pytest.raises(ClientRequestException) as caught:
        sdk.list_image_auto_sync_repos_details(
            ListImageAutoSyncReposDetailsRequest(namespace=namespace, repository="missing")
        )
    assert caught.value.status_code == 404


def test_manual_sync_and_jobs(site: Swr, peer: Swr) -> None:
    one = image([{"m": b"manual one"}], label=_unique("m1"))
    two = image([{"m": b"manual two"}], label=_unique("m2"))
    namespace, repository = _repository(site, ("1.0", one), ("2.0", two))
    remote = _peer_namespace(peer, "mirror")
    sdk = site.sdk()
    answer = sdk.create_manual_image_sync_repo(
        CreateManualImageSyncRepoRequest(
            namespace=namespace,
            repository=repository,
            body=CreateManualImageSyncRepoRequestBody(
                image_tag=["1.0", "2.0"], override=False, remote_namespace=remote, remote_region_id=PEER
            ),
        )
    )
    assert len(answer.body) == 2 and all(isinstance(i, str) for i in answer.body)
    listed = _finished(site, namespace, repository, 2)
    assert sorted(j.tag for j in listed.body) == ["1.0", "2.0"]
    with site.api() as api:
        details = api.get(f"/v2/manage/namespaces/{namespace}/repos/{repository}/sync_job").json()
    assert {j.status for j in listed.body} == {"success"}, details
    assert all(json.loads(d["detail"])["digest"] for d in details)
    for job in listed.body:
        assert_sdk_types(job)
        assert (job.remote_region_id, job.remote_namespace, job.repo_name, job.namespace) == (
            PEER,
            remote,
            repository,
            namespace,
        )
        assert job.sync_operator_name == ADMIN_USER
    assert sorted(str(j.id) for j in listed.body) == sorted(answer.body)
    assert _peer_digest(peer, f"{remote}/{repository}", "1.0") == one.digest
    assert _peer_digest(peer, f"{remote}/{repository}", "2.0") == two.digest

    # paging: Content-Range offset-count/total, newest first unless order::asc
    page = _jobs(site, namespace, repository, "limit::1|offset::1|order::asc")
    assert [j.tag for j in page.body] == [sorted(listed.body, key=lambda j: j.id)[1].tag]
    assert page.content_range == "1-1/2"

    # the peer's tag names another image: without override nothing is copied ("existed")
    three = image([{"m": b"manual three"}], label=_unique("m3"))
    with site.registry() as client:
        push(client, f"{namespace}/{repository}", "1.0", three)
    sdk.create_manual_image_sync_repo(
        CreateManualImageSyncRepoRequest(
            namespace=namespace,
            repository=repository,
            body=CreateManualImageSyncRepoRequestBody(
                image_tag=["1.0"], remote_namespace=remote, remote_region_id=PEER
            ),
        )
    )
    newest = _finished(site, namespace, repository, 3).body[0]
    assert newest.status == "existed"
    assert _peer_digest(peer, f"{remote}/{repository}", "1.0") == one.digest

    # a tag that does not exist, an unknown region, an empty tag list: refused, no job made
    for tags, region in ((["9.9"], PEER), (["2.0"], "nowhere"), ([], PEER)):
        with pytest.raises(ClientRequestException) as caught:
            sdk.create_manual_image_sync_repo(
                CreateManualImageSyncRepoRequest(
                    namespace=namespace,
                    repository=repository,
                    body=CreateManualImageSyncRepoRequestBody(
                        image_tag=tags, remote_namespace=remote, remote_region_id=region
                    ),
                )
            )
        assert caught.value.status_code in (400, 404), caught.value.error_msg
    assert len(_jobs(site, namespace, repository).body) == 3
    with pytest.raises(ClientRequestException) as caught:
        _jobs(site, namespace, repository, "limit::x|offset::0")
    assert caught.value.status_code == 400


def test_automatic_sync_after_a_skopeo_push(site: Swr, peer: Swr, tmp_path: Path) -> None:
    children = [image([{f"auto/{arch}": arch.encode() * 20}], label=_unique(arch)) for arch in ("amd64", "arm64")]
    top = index(children)
    namespace, repository = _repository(site, ("seed", image([{"s": b"seed"}], label=_unique("seed"))))
    remote = _peer_namespace(peer, "auto")
    site.sdk().create_image_sync_repo(
        CreateImageSyncRepoRequest(
            namespace=namespace,
            repository=repository,
            body=CreateImageSyncRepoRequestBody(remote_region_id=PEER, remote_namespace=remote, sync_auto=True),
        )
    )
    layout = write_layout(tmp_path / "layout", {"1.0": top, "c0": children[0], "c1": children[1]})
    pushed = time.monotonic()
    skopeo.push(layout, "1.0", f"{site.server.address}/{namespace}/{repository}:1.0", creds=CREDS, all_images=True)
    _wait(lambda: _peer_digest(peer, f"{remote}/{repository}", "1.0"), timeout=20, what="the tag at the peer")
    seconds = time.monotonic() - pushed
    assert seconds < 15, seconds
    inspected = skopeo.inspect_raw(f"{peer.server.address}/{remote}/{repository}:1.0", creds=CREDS)
    assert [m["digest"] for m in inspected["manifests"]] == [c.digest for c in children]
    assert _peer_digest(peer, f"{remote}/{repository}", "1.0") == top.digest
    jobs = _finished(site, namespace, repository, 1).body
    # rules are matched when an event is dispatched: the seed, pushed just before the rule, may be
    # synced too if its event waited for a dispatcher that long
    assert [(j.tag, j.status) for j in jobs if j.tag != "seed"] == [("1.0", "success")]

    # a rule with syncAuto false makes no job on push
    quiet = _peer_namespace(peer, "quiet")
    site.sdk().create_image_sync_repo(
        CreateImageSyncRepoRequest(
            namespace=namespace,
            repository=repository,
            body=CreateImageSyncRepoRequestBody(remote_region_id=PEER, remote_namespace=quiet, sync_auto=False),
        )
    )
    with site.registry() as client:
        push(client, f"{namespace}/{repository}", "2.0", children[0])
    _wait(lambda: _peer_digest(peer, f"{remote}/{repository}", "2.0"), timeout=20, what="2.0 at the peer")
    assert _peer_digest(peer, f"{quiet}/{repository}", "2.0") is None
    assert {j.remote_namespace for j in _jobs(site, namespace, repository).body} == {remote}


def test_bad_bodies_are_swr_errors(site: Swr) -> None:
    namespace, repository = _repository(site, ("1.0", image([{"b": b"bad"}], label=_unique("b"))))
    with httpx.Client(base_url=site.server.base_url, headers={"X-Auth-Token": site.token}) as api:
        path = f"/v2/manage/namespaces/{namespace}/repos/{repository}/sync_repo"
        answer = api.post(path, json={"remoteRegionId": PEER})
        assert answer.status_code == 400 and answer.json()["errorCode"].startswith("SVCSTG.SWR.")
        answer = api.post(path, json={"remoteRegionId": PEER, "remoteNamespace": "x" * 65})
        assert answer.status_code == 400
        assert api.get(path).json() == []


def test_the_engine_between_two_moorage_servers(site: Swr, peer: Swr, tmp_path: Path) -> None:
    """The copy engine with both ends remote moorage servers (token auth, push scope): a signed
    two-platform index with an SBOM referrer reaches the peer with equal digests, the SBOM found
    through the peer's own referrers API; inside the peer a copy mounts every blob."""
    import asyncio

    from moorage.domain.digests import Digest
    from moorage.services.replication import BlobOutcome, CopyOptions, copy_artifact, remote_endpoint
    from moorage.settings import Settings

    children = [image([{f"two/{arch}": arch.encode() * 30}], label=_unique(arch)) for arch in ("amd64", "arm64")]
    top = index(children)
    sbom = image([{"sbom.json": b"{}"}], label=_unique("sbom"), subject=top, artifact_type="application/spdx+json")
    signature = image([{"sig": b"signature"}], label=_unique("sig"))
    sig_tag = "sha256-" + top.digest.split(":")[1] + ".sig"
    namespace, repository = _repository(
        site, *((c.digest, c) for c in children), ("1.0", top), (sbom.digest, sbom), (sig_tag, signature)
    )
    first, second = _peer_namespace(peer, "engine"), _peer_namespace(peer, "mounted")
    settings = Settings(data_dir=tmp_path, egress={"allow_networks": "127.0.0.0/8"})

    async def work() -> tuple[Any, Any, list[str]]:
        source = remote_endpoint(site.server.base_url, settings=settings, username=ADMIN_USER, password=ADMIN_PASSWORD)
        sink = remote_endpoint(peer.server.base_url, settings=settings, username=ADMIN_USER, password=ADMIN_PASSWORD)
        try:
            copied = await copy_artifact(source, sink, f"{namespace}/{repository}", "1.0", f"{first}/{repository}")
            mounted = await copy_artifact(
                sink,
                sink,
                f"{first}/{repository}",
                "1.0",
                f"{second}/{repository}",
                CopyOptions(include_referrers=False),
            )
            referrers = await sink.referrers(f"{first}/{repository}", Digest.parse(top.digest))
            return copied, mounted, [str(d.digest) for d in referrers or []]
        finally:
            await source.client.aclose()
            await sink.client.aclose()

    copied, mounted, referrers = asyncio.run(work())
    assert set(copied.referrers) == {sbom.digest, signature.digest} and referrers == [sbom.digest]
    assert _peer_digest(peer, f"{first}/{repository}", "1.0") == top.digest
    assert _peer_digest(peer, f"{first}/{repository}", sig_tag) == signature.digest
    inspected = skopeo.inspect_raw(f"{peer.server.address}/{first}/{repository}:1.0", creds=CREDS)
    assert [m["digest"] for m in inspected["manifests"]] == [c.digest for c in children]
    # moorage indexes subjects itself: no fallback index tag is written
    assert _peer_digest(peer, f"{first}/{repository}", "sha256-" + top.digest.split(":")[1]) is None
    assert mounted.blobs and {b.outcome for b in mounted.blobs} == {BlobOutcome.MOUNTED}
    assert _peer_digest(peer, f"{second}/{repository}", "1.0") == top.digest
