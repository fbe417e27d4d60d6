"""Tags: listing with ``n`` / ``last`` and ``Link`` (end-8a/8b), the tag grammar, and deleting
manifests by tag and by digest (end-9)."""

from __future__ import annotations

import pytest

from tests.oci.oci_client import OciClient, assert_error, next_link
from tests.support import ocilayout as ol

TAGS = ["v1", "A", "b", "latest", "1.0", "_under", "Zeta", "alpha-2", "alpha.1", "v10"]


@pytest.fixture
def tagged(oci: OciClient, repo: str) -> ol.Image:
    """One image under every tag of ``TAGS``."""
    image = ol.image([{"tagged.txt": repo.encode()}])
    oci.push(repo, image, tag=TAGS[0])
    for tag in TAGS[1:]:
        assert oci.put_manifest(repo, tag, image.manifest).status_code == 201
    return image


def _walk_links(oci: OciClient, first: str) -> list[list[str]]:
    pages, url = [], first
    for _ in range(50):
        response = oci.http.get(oci.absolute(url))
        assert response.status_code == 200
        pages.append(response.json()["tags"] or [])
        link = next_link(response)
        if link is None:
            return pages
        url = link
    raise AssertionError("pagination did not end")


@pytest.mark.spec_deviation("tag list is not sorted")
def test_tag_list_names_the_repository_and_is_sorted(oci: OciClient, repo: str, tagged: ol.Image) -> None:
    response = oci.tags(repo)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == repo
    assert body["tags"] == sorted(TAGS)


def test_tag_list_holds_every_tag_once(oci: OciClient, repo: str, tagged: ol.Image) -> None:
    tags = oci.tags(repo).json()["tags"]
    assert sorted(tags) == sorted(TAGS)


def test_tag_list_of_an_unknown_repository_is_404_name_unknown(oci: OciClient, repo: str) -> None:
    assert_error(oci.tags(repo), 404, "NAME_UNKNOWN")


@pytest.mark.spec_deviation("ignores n and last in the tag list")
def test_tag_list_n_and_last(oci: OciClient, repo: str, tagged: ol.Image) -> None:
    ordered = sorted(TAGS)
    assert oci.tags(repo, n="3").json()["tags"] == ordered[:3]
    assert oci.tags(repo, n="3", last=ordered[2]).json()["tags"] == ordered[3:6]
    assert oci.tags(repo, last=ordered[6]).json()["tags"] == ordered[7:]
    assert oci.tags(repo, n="100").json()["tags"] == ordered
    assert oci.tags(repo, n="3", last=ordered[-1]).json()["tags"] in ([], None)


@pytest.mark.spec_deviation("ignores n=0 in the tag list")
def test_tag_list_n_zero_is_empty_without_link(oci: OciClient, repo: str, tagged: ol.Image) -> None:
    response = oci.tags(repo, n="0")
    assert response.status_code == 200
    assert response.json()["tags"] in ([], None)
    assert next_link(response) is None


@pytest.mark.moorage_extra("tag list pagination with a Link header")
@pytest.mark.parametrize("page_size", [1, 3, 4, 10, 11])
def test_tag_list_link_header_walks_every_tag_in_order(
    oci: OciClient, repo: str, tagged: ol.Image, page_size: int
) -> None:
    pages = _walk_links(oci, f"/v2/{repo}/tags/list?n={page_size}")
    assert [tag for page in pages for tag in page] == sorted(TAGS)
    assert all(len(page) == page_size for page in pages[:-1])
    assert len([page for page in pages if page]) == -(-len(TAGS) // page_size)
    if page_size < len(TAGS):
        exactly_the_rest = oci.tags(repo, n=str(page_size), last=sorted(TAGS)[-1 - page_size])
        assert exactly_the_rest.json()["tags"] == sorted(TAGS)[-page_size:]
        assert next_link(exactly_the_rest) is None, "a Link when nothing follows"


@pytest.mark.moorage_extra("a malformed n is refused rather than ignored")
@pytest.mark.parametrize("n", ["-1", "abc"])
def test_tag_list_malformed_n_is_a_client_error(oci: OciClient, repo: str, tagged: ol.Image, n: str) -> None:
    assert 400 <= oci.tags(repo, n=n).status_code < 500


# --- the tag grammar ------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["a", "_", "0", "A-Z_a.z-0", "x" * 128, "_.-", "v1.2.3-rc.1_build"])
def test_tags_of_the_oci_grammar_are_accepted(oci: OciClient, repo: str, tag: str) -> None:
    image = ol.image([{"grammar.txt": b"ok"}])
    oci.push(repo, image, tag=tag)
    response = oci.get_manifest(repo, tag)
    assert response.status_code == 200
    assert tag in oci.tags(repo).json()["tags"]


@pytest.mark.moorage_extra("TAG_INVALID for a tag outside the OCI grammar (the reference answers a 404 page)")
@pytest.mark.parametrize("tag", ["-dash", ".dot", "x" * 129, "sp%20ace", "t%C3%A9", "pl+us"])
def test_tags_outside_the_grammar_are_tag_invalid(oci: OciClient, repo: str, tag: str) -> None:
    image = ol.image([{"grammar.txt": b"bad"}])
    oci.push(repo, image, tag="good")
    assert_error(oci.put_manifest(repo, tag, image.manifest), 400, "TAG_INVALID")
    assert oci.tags(repo).json()["tags"] == ["good"]


@pytest.mark.moorage_extra("tag parameters on a push by digest (the spec's newest MAY)")
def test_push_by_digest_with_tag_parameters_tags_it(oci: OciClient, repo: str) -> None:
    image = ol.image([{"tag-param.txt": b"1"}])
    for blob in image.blobs():
        oci.push_blob(repo, blob)
    tags = ["1.2.3", "1.2", "1", "latest"]
    response = oci.http.put(
        f"/v2/{repo}/manifests/{image.digest}",
        params=[("tag", t) for t in tags],
        content=image.manifest.data,
        headers={"Content-Type": image.manifest.media_type},
    )
    assert response.status_code == 201, response.text
    answered = [t.strip() for value in response.headers.get_list("OCI-Tag") for t in value.split(",")]
    assert answered == tags
    assert oci.tags(repo).json()["tags"] == sorted(tags)
    for tag in tags:
        assert oci.get_manifest(repo, tag).headers["Docker-Content-Digest"] == image.digest
    refused = oci.http.put(
        f"/v2/{repo}/manifests/{image.digest}",
        params=[("tag", "ok"), ("tag", ".bad")],
        content=image.manifest.data,
        headers={"Content-Type": image.manifest.media_type},
    )
    assert_error(refused, 400, "TAG_INVALID")
    assert "ok" not in oci.tags(repo).json()["tags"]


# --- deletes ----------------------------------------------------------------------------------


def test_delete_manifest_by_digest_removes_it_and_its_tags(oci: OciClient, repo: str) -> None:
    image, other = ol.image([{"del.txt": b"1"}]), ol.image([{"keep.txt": b"2"}])
    oci.push(repo, image, tag="one")
    assert oci.put_manifest(repo, "two", image.manifest).status_code == 201
    oci.push(repo, other, tag="other")
    assert oci.http.delete(f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    for reference in (image.digest, "one", "two"):
        assert_error(oci.get_manifest(repo, reference), 404, "MANIFEST_UNKNOWN")
    assert oci.tags(repo).json()["tags"] == ["other"]
    assert_error(oci.http.delete(f"/v2/{repo}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_is_done_or_refused_as_the_spec_allows(oci: OciClient, repo: str, target: str) -> None:
    image = ol.image([{"tagdel.txt": b"3"}])
    oci.push(repo, image, tag="gone")
    response = oci.http.delete(f"/v2/{repo}/manifests/gone")
    assert response.status_code in (202, 400, 405)
    if target == "moorage":
        assert response.status_code == 202
    if response.status_code == 202:
        assert oci.get_manifest(repo, "gone").status_code == 404


@pytest.mark.moorage_extra("tag deletion (the reference disables it, which the spec allows)")
def test_delete_by_tag_keeps_the_manifest_and_other_tags(oci: OciClient, repo: str) -> None:
    image = ol.image([{"tagdel.txt": b"4"}])
    oci.push(repo, image, tag="gone")
    assert oci.put_manifest(repo, "stays", image.manifest).status_code == 201
    assert oci.http.delete(f"/v2/{repo}/manifests/gone").status_code == 202
    assert_error(oci.get_manifest(repo, "gone"), 404, "MANIFEST_UNKNOWN")
    assert oci.get_manifest(repo, image.digest).status_code == 200
    assert oci.tags(repo).json()["tags"] == ["stays"]
    assert_error(oci.http.delete(f"/v2/{repo}/manifests/gone"), 404, "MANIFEST_UNKNOWN")


def test_delete_index_keeps_its_children(oci: OciClient, repo: str) -> None:
    children = ol.platform_images([("linux", "amd64", None), ("linux", "arm64", None)])
    idx = ol.index(children)
    oci.push(repo, idx, tag="multi")
    assert oci.http.delete(f"/v2/{repo}/manifests/{idx.digest}").status_code == 202
    assert oci.get_manifest(repo, "multi").status_code == 404
    for child in children:
        assert oci.get_manifest(repo, child.digest).status_code == 200


def test_delete_in_an_unknown_repository_is_404(oci: OciClient, repo: str) -> None:
    response = oci.http.delete(f"/v2/{repo}/manifests/sha256:" + "7" * 64)
    assert_error(response, 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN")
