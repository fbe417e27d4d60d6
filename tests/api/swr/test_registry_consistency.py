"""The management API and the registry are two views of one state: an image pushed with skopeo shows
up with the digest, size and manifest the registry serves; tags deleted on either side are gone from
both; a tag made by the API is pullable; a deleted repository leaves the blob bytes for garbage
collection; pulls move the download counters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoTagRequest,
    CreateRepoTagRequestBody,
    DeleteNamespacesRequest,
    DeleteRepoRequest,
    DeleteRepoTagRequest,
    ListRepositoryTagsRequest,
    ShowDomainOverviewRequest,
    ShowDomainResourceReportsRequest,
    ShowRepositoryRequest,
    ShowRepoTagRequest,
)

from moorage.domain.digests import Digest
from moorage.storage.paths import blob_data
from tests.api.swr.conftest import Swr, connect
from tests.support import skopeo
from tests.support.accounts import create_user
from tests.support.swr_images import Image, image, push, sha256, write_layout

NS = "org-sync"


@pytest.fixture(scope="module")
def namespace(swr: Swr) -> str:
    """This module's organization."""
    swr.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=NS)))
    return NS


def _tag_names(swr: Swr, repository: str) -> list[str]:
    listed = swr.sdk().list_repository_tags(
        ListRepositoryTagsRequest(namespace=NS, repository=repository, order_column="tag", order_type="asc")
    )
    return [t.tag for t in listed.body or []]


def _registry_tags(swr: Swr, name: str) -> list[str]:
    with swr.registry() as registry:
        answer = registry.get(f"/v2/{name}/tags/list")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["tags"])


@pytest.mark.e2e
def test_a_skopeo_push_is_what_the_api_shows(swr: Swr, namespace: str, tmp_path: Path) -> None:
    img = image([{"etc/os-release": b"ID=moorage\n"}, {"srv/data": bytes(range(256)) * 64}], label="skopeo")
    layout = write_layout(tmp_path / "layout", {"v1": img})
    name = f"{namespace}/skopeo/app"
    skopeo.push(layout, "v1", f"{swr.server.address}/{name}:v1", creds=(swr.account.name, swr.account.password))

    with swr.registry() as registry:
        served = registry.get(f"/v2/{name}/manifests/v1", headers={"Accept": img.media_type})
    manifest = json.loads(served.content)
    shown = swr.sdk().show_repo_tag(ShowRepoTagRequest(namespace=NS, repository="skopeo$app", tag="v1"))
    assert shown.manifest.encode() == served.content
    assert shown.digest == served.headers["Docker-Content-Digest"] == sha256(served.content)
    assert shown.size == manifest["config"]["size"] + sum(layer["size"] for layer in manifest["layers"])
    assert shown.image_id == manifest["config"]["digest"].split(":")[1]
    listed = swr.sdk().list_repository_tags(ListRepositoryTagsRequest(namespace=NS, repository="skopeo$app"))
    assert [(t.tag, t.digest, t.size, t.manifest) for t in listed.body] == [
        ("v1", shown.digest, shown.size, shown.manifest)
    ]
    assert skopeo.inspect_raw(
        f"{swr.server.address}/{name}:v1", creds=(swr.account.name, swr.account.password)
    ) == json.loads(shown.manifest)


def test_tags_deleted_on_either_side_are_gone_from_both(swr: Swr, namespace: str) -> None:
    name = f"{namespace}/both"
    img = image([{"f": b"both"}], label="both")
    with swr.registry() as registry:
        for tag in ("a", "b", "c"):
            push(registry, name, tag, img)
    client = swr.sdk()
    client.delete_repo_tag(DeleteRepoTagRequest(namespace=NS, repository="both", tag="a"))
    assert _registry_tags(swr, name) == ["b", "c"]
    with swr.registry() as registry:
        assert registry.delete(f"/v2/{name}/manifests/b").status_code == 202
    assert _tag_names(swr, "both") == ["c"]
    assert client.show_repository(ShowRepositoryRequest(namespace=NS, repository="both")).num_images == 1

    client.create_repo_tag(
        CreateRepoTagRequest(
            namespace=NS, repository="both", body=CreateRepoTagRequestBody(source_tag="c", destination_tag="d")
        )
    )
    assert _registry_tags(swr, name) == ["c", "d"]
    with swr.registry() as registry:
        by_new_tag = registry.get(f"/v2/{name}/manifests/d", headers={"Accept": img.media_type})
    assert by_new_tag.headers["Docker-Content-Digest"] == img.digest
    assert client.show_repository(ShowRepositoryRequest(namespace=NS, repository="both")).num_images == 2


def test_deleting_a_repository_keeps_the_blob_bytes(swr: Swr, namespace: str) -> None:
    img = image([{"keep": b"these bytes"}], label="doomed")
    with swr.registry() as registry:
        push(registry, f"{namespace}/doomed", "v1", img)
        push(registry, f"{namespace}/doomed", "v2", img)
    swr.sdk().delete_repo(DeleteRepoRequest(namespace=NS, repository="doomed"))
    with swr.registry() as registry:
        assert registry.get(f"/v2/{namespace}/doomed/tags/list").status_code == 404
        assert registry.get(f"/v2/{namespace}/doomed/manifests/{img.digest}").status_code == 404
    storage = swr.server.data_dir / "storage"
    for blob in img.blobs:  # the bytes wait for garbage collection
        assert (storage / blob_data(Digest.parse(blob.digest))).read_bytes() == blob.data
    assert swr.sdk().show_domain_overview(ShowDomainOverviewRequest()).repo_num >= 1


def test_pulls_move_the_download_counters(swr: Swr) -> None:
    # An account of its own, so that no other test's pulls land in its totals.
    owner = connect(swr.server, create_user(swr.server, "pull-counter", admin=True))
    img: Image = image([{"pulled": b"x" * 1000}], label="pulled")
    with owner.registry() as registry:
        push(registry, "counted/pulled", "v1", img)
    client = owner.sdk()
    assert client.show_domain_overview(ShowDomainOverviewRequest()).downflow_size == 0
    with owner.registry() as registry:
        for _ in range(3):
            pulled = registry.get("/v2/counted/pulled/manifests/v1", headers={"Accept": img.media_type})
            assert pulled.status_code == 200
        assert registry.head("/v2/counted/pulled/manifests/v1").status_code == 200  # HEAD is not a pull
    deadline = time.monotonic() + 20
    while client.show_repository(ShowRepositoryRequest(namespace="counted", repository="pulled")).num_download < 3:
        assert time.monotonic() < deadline, "pull counts were not flushed"
        time.sleep(0.5)
    assert client.show_repository(ShowRepositoryRequest(namespace="counted", repository="pulled")).num_download == 3
    overview = client.show_domain_overview(ShowDomainOverviewRequest())
    assert overview.downflow_size == 3 * (img.size + len(img.manifest))  # each pull at the image's full size
    downloads = client.show_domain_resource_reports(
        ShowDomainResourceReportsRequest(resource_type="download", frequency="daily")
    ).body
    assert downloads[-1].value == 3 and downloads[0].value == 0


def test_an_emptied_organization_can_be_deleted(swr: Swr) -> None:
    client = swr.sdk()
    client.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace="org-empty")))
    with swr.registry() as registry:
        push(registry, "org-empty/only", "v1", image([{"e": b"e"}], label="empty"))
    client.delete_repo(DeleteRepoRequest(namespace="org-empty", repository="only"))
    client.delete_namespaces(DeleteNamespacesRequest(namespace="org-empty"))
