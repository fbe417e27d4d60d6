"""Tags through the official SDK (AK/SK): the v2 listing in both parameter forms, the v3 keyset
listing, one tag with the manifest the registry serves, tagging again, deleting, accessories and
references, and the documented errors."""

from __future__ import annotations

import json
import re

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import (
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoTagRequest,
    CreateRepoTagRequestBody,
    DeleteRepoTagRequest,
    ListReferencesRequest,
    ListRepoAccessoriesRequest,
    ListRepositoryTagRequest,
    ListRepositoryTagsRequest,
    ShowRepoTagRequest,
)

from tests.api.swr.conftest import Swr, assert_sdk_types, assert_swr_error
from tests.support.swr_images import Image, image, index, push

NS, REPO = "org-tags", "team/app"
PATH_REPO = "team$app"
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"


@pytest.fixture(scope="module")
def images(swr: Swr) -> dict[str, Image]:
    """v1, v2, a two-platform index, and accessories of v1: a tagged cosign signature (OCI subject), an
    untagged SBOM (subject) and a cosign tag-scheme signature (``sha256-<hex>.sig``, no subject)."""
    swr.sdk().create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace=NS)))
    name = f"{NS}/{REPO}"
    v1 = image([{"etc/v": b"1\n"}, {"usr/bin/tool": b"#!/bin/sh\n"}], label="v1")
    v2 = image([{"etc/v": b"2\n"}], label="v2")
    arm, amd = image([{"a": b"arm"}], label="arm"), image([{"a": b"amd"}], label="amd")
    multi = index([arm, amd])
    signature = image([{"sig": b"signed"}], subject=v1, artifact_type=COSIGN_SIG)
    sbom = image([{"sbom.json": b"{}"}], subject=v1, artifact_type="application/spdx+json")
    scheme = image([{"sig": b"tag scheme"}], label="scheme")
    with swr.registry() as registry:
        for tag, img in (("v1", v1), ("v2", v2), ("arm", arm), ("amd", amd), ("multi", multi), ("sig-v1", signature)):
            push(registry, name, tag, img)
        push(registry, name, sbom.digest, sbom)
        push(registry, name, "sha256-" + v1.digest.split(":")[1] + ".sig", scheme)
    return {"v1": v1, "v2": v2, "multi": multi, "signature": signature, "sbom": sbom, "scheme": scheme}


def _tags(swr: Swr, **args: str) -> tuple[list[str], str]:
    response = swr.sdk().list_repository_tags(ListRepositoryTagsRequest(namespace=NS, repository=PATH_REPO, **args))
    for item in response.body:
        assert_sdk_types(item, optional=frozenset({"deleted"}))
        assert item.deleted is None and item.scanned is False
    return [t.tag for t in response.body], response.content_range


def test_show_tag_is_the_manifest_the_registry_serves(swr: Swr, images: dict[str, Image]) -> None:
    v1 = images["v1"]
    shown = swr.sdk().show_repo_tag(ShowRepoTagRequest(namespace=NS, repository=PATH_REPO, tag="v1"))
    assert_sdk_types(shown)
    with swr.registry() as registry:
        served = registry.get(f"/v2/{NS}/{REPO}/manifests/v1", headers={"Accept": v1.media_type})
    assert shown.manifest == served.text == v1.manifest.decode()
    assert shown.digest == served.headers["Docker-Content-Digest"] == v1.digest
    assert v1.config is not None and shown.image_id == v1.config.digest.split(":")[1]
    assert (shown.tag, shown.size, shown.schema, shown.tag_type, shown.is_trusted) == ("v1", v1.size, 2, 0, False)
    assert shown.path == shown.internal_path == f"{swr.server.address}/{NS}/{REPO}:v1"
    assert TIME.match(shown.created) and TIME.match(shown.updated)
    assert len(shown.domain_id) == 32

    multi = swr.sdk().show_repo_tag(ShowRepoTagRequest(namespace=NS, repository=PATH_REPO, tag="multi"))
    assert (multi.tag_type, multi.image_id, multi.digest) == (1, "", images["multi"].digest)
    assert json.loads(multi.manifest)["mediaType"] == "application/vnd.oci.image.index.v1+json"


def test_v2_listing_in_both_forms(swr: Swr, images: dict[str, Image]) -> None:
    everything = sorted(["v1", "v2", "arm", "amd", "multi", "sig-v1", "sha256-" + images["v1"].digest[7:] + ".sig"])
    names, content_range = _tags(swr, order_column="tag", order_type="asc")
    assert names == everything and content_range == f"0-{len(everything)}/{len(everything)}"
    names, content_range = _tags(swr, filter="offset::2|limit::2|order_column::tag|order_type::asc")
    assert names == everything[2:4] and content_range == f"2-2/{len(everything)}"
    names, content_range = _tags(swr, offset="3", limit="2", order_column="tag", order_type="desc")
    assert names == everything[::-1][3:5]
    names, content_range = _tags(swr, tag="V", order_column="tag", order_type="asc")  # substring, any case
    assert names == ["sig-v1", "v1", "v2"] and content_range == "0-3/3"
    names, _ = _tags(swr, filter="tag::mul")
    assert names == ["multi"]
    newest_first, _ = _tags(swr)  # default: most recently updated first
    assert newest_first[0].endswith(".sig") and newest_first[-1] == "v1"


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        ({"limit": "1001"}, 400, "SVCSTG.SWR.4000056"),
        ({"limit": "-1"}, 400, "SVCSTG.SWR.4000056"),
        ({"order_column": "size", "order_type": "asc"}, 400, "SVCSTG.SWR.4001035"),
        ({"order_type": "up"}, 400, "SVCSTG.SWR.4001035"),
        ({"filter": "limit::5|colour::red"}, 400, "SVCSTG.SWR.4001035"),
        ({"filter": "offset::x|limit::5"}, 400, "SVCSTG.SWR.4000056"),
    ],
)
def test_v2_listing_refuses_bad_filters(
    swr: Swr, images: dict[str, Image], args: dict[str, str], status: int, code: str
) -> None:
    with pytest.raises(ClientRequestException) as caught:
        _tags(swr, **args)
    assert_swr_error(caught, status, code)


def test_listing_an_unknown_repository(swr: Swr, images: dict[str, Image]) -> None:
    with pytest.raises(ClientRequestException) as caught:
        swr.sdk().list_repository_tags(ListRepositoryTagsRequest(namespace=NS, repository="nothing-here"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040010")
    with pytest.raises(ClientRequestException) as caught:
        swr.sdk().list_repository_tags(ListRepositoryTagsRequest(namespace="no-such-org", repository="x"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040058")


def test_v3_listing_pages_with_markers(swr: Swr, images: dict[str, Image]) -> None:
    client = swr.sdk()
    seen: list[str] = []
    marker = None
    while True:
        page = client.list_repository_tag(
            ListRepositoryTagRequest(
                namespace=NS, repository=PATH_REPO, limit=2, marker=marker, order_column="tag", order_type="asc"
            )
        )
        for item in page.tags:
            assert_sdk_types(item, optional=frozenset({"manifest"}))
            assert item.manifest is None
        seen += [t.tag for t in page.tags]
        assert page.has_more is (page.next_marker is not None)
        if not page.has_more:
            break
        marker = page.next_marker
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 7
    with_manifest = client.list_repository_tag(
        ListRepositoryTagRequest(namespace=NS, repository=PATH_REPO, tag="v2", with_manifest=True)
    )
    assert [(t.tag, t.manifest) for t in with_manifest.tags] == [("v2", images["v2"].manifest.decode())]
    with pytest.raises(ClientRequestException) as caught:
        client.list_repository_tag(ListRepositoryTagRequest(namespace=NS, repository=PATH_REPO, marker="garbage"))
    assert_swr_error(caught, 400, "SVCSTG.SWR.4001035")
    with pytest.raises(ClientRequestException) as caught:
        client.list_repository_tag(ListRepositoryTagRequest(namespace=NS, repository=PATH_REPO, limit=1001))
    assert caught.value.status_code == 400


def test_accessories_and_references(swr: Swr, images: dict[str, Image]) -> None:
    client = swr.sdk()
    found = client.list_repo_accessories(ListRepoAccessoriesRequest(namespace=NS, repository=PATH_REPO, tag="v1"))
    assert_sdk_types(found)
    v1 = images["v1"]
    assert found.total == 3
    by_digest = {a.sig_digest: a for a in found.accessories}
    assert by_digest.keys() == {images["signature"].digest, images["sbom"].digest, images["scheme"].digest}
    assert {a.target_digest for a in found.accessories} == {v1.digest}
    assert (by_digest[images["signature"].digest].type, by_digest[images["signature"].digest].sig_tag) == (
        "signature.cosign",
        "sig-v1",
    )
    assert (by_digest[images["sbom"].digest].type, by_digest[images["sbom"].digest].sig_tag) == ("sbom", "")
    assert by_digest[images["scheme"].digest].type == "signature.cosign"
    assert all(a.namespace_name == NS and a.repo_name == REPO for a in found.accessories)
    paged = client.list_repo_accessories(
        ListRepoAccessoriesRequest(namespace=NS, repository=PATH_REPO, tag="v1", limit=2, offset=2)
    )
    assert paged.total == 3 and len(paged.accessories) == 1
    assert (
        client.list_repo_accessories(ListRepoAccessoriesRequest(namespace=NS, repository=PATH_REPO, tag="v2")).total
        == 0
    )

    references = client.list_references(ListReferencesRequest(namespace=NS, repository=PATH_REPO, tag="sig-v1"))
    assert_sdk_types(references, optional=frozenset({"next_marker"}))
    assert (references.tags, references.has_more) == (["v1"], False)
    scheme_tag = "sha256-" + v1.digest[7:] + ".sig"
    assert client.list_references(ListReferencesRequest(namespace=NS, repository=PATH_REPO, tag=scheme_tag)).tags == [
        "v1"
    ]
    assert client.list_references(ListReferencesRequest(namespace=NS, repository=PATH_REPO, tag="v2")).tags == []
    with pytest.raises(ClientRequestException) as caught:
        client.list_repo_accessories(ListRepoAccessoriesRequest(namespace=NS, repository=PATH_REPO, tag="nope"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040048")


def test_tag_again_and_delete(swr: Swr, images: dict[str, Image]) -> None:
    client = swr.sdk()

    def digest_of(tag: str) -> str:
        return str(client.show_repo_tag(ShowRepoTagRequest(namespace=NS, repository=PATH_REPO, tag=tag)).digest)

    def copy(source: str, destination: str, override: bool | None = None) -> None:
        client.create_repo_tag(
            CreateRepoTagRequest(
                namespace=NS,
                repository=PATH_REPO,
                body=CreateRepoTagRequestBody(source_tag=source, destination_tag=destination, override=override),
            )
        )

    copy("v1", "stable")
    assert digest_of("stable") == images["v1"].digest
    with pytest.raises(ClientRequestException) as caught:
        copy("v2", "stable")
    assert_swr_error(caught, 409, "SVCSTG.SWR.4090006")
    copy("v2", "stable", override=True)
    assert digest_of("stable") == images["v2"].digest
    references = client.list_references(ListReferencesRequest(namespace=NS, repository=PATH_REPO, tag="sig-v1"))
    assert references.tags == ["v1"]  # "stable" now names v2
    with pytest.raises(ClientRequestException) as caught:
        copy("missing", "other")
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040048")
    with pytest.raises(ClientRequestException) as caught:
        copy("v1", "bad tag!")
    assert caught.value.status_code == 400

    client.delete_repo_tag(DeleteRepoTagRequest(namespace=NS, repository=PATH_REPO, tag="stable"))
    with pytest.raises(ClientRequestException) as caught:
        digest_of("stable")
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040048")
    with pytest.raises(ClientRequestException) as caught:
        client.delete_repo_tag(DeleteRepoTagRequest(namespace=NS, repository=PATH_REPO, tag="stable"))
    assert_swr_error(caught, 404, "SVCSTG.SWR.4040048")
