"""The repository catalog (``/v2/_catalog``) with ``n`` / ``last`` and ``Link`` pagination.

The catalog is not part of distribution-spec v1.1 but every client expects Docker's form of it,
and moorage promises it paginated. The registry is shared with other tests (and, on PostgreSQL,
with other modules), so assertions look at this test's repositories inside the whole listing.
"""

from __future__ import annotations

import uuid

import pytest

from tests.oci.oci_client import OciClient, next_link
from tests.support import ocilayout as ol


@pytest.fixture
def namespace_repos(oci: OciClient) -> list[str]:
    """Five repositories in a fresh namespace, two of them nested."""
    namespace = "c" + uuid.uuid4().hex[:10]
    names = [f"{namespace}/{name}" for name in ("b", "a", "c/deep", "c", "d.e_f-g")]
    for name in names:
        oci.push_blob(name, name.encode())
    return sorted(names)


def _just_before(name: str) -> str:
    return name[:-1] + chr(ord(name[-1]) - 1)


def _catalog_pages(oci: OciClient, first: str, stop_after: str) -> list[list[str]]:
    """Follow ``Link`` from ``first`` until the end or a page reaching past ``stop_after``."""
    pages, url = [], first
    for _ in range(1000):
        response = oci.http.get(oci.absolute(url))
        assert response.status_code == 200, response.text
        pages.append(response.json()["repositories"] or [])
        link = next_link(response)
        if link is None or (pages[-1] and pages[-1][-1] > stop_after):
            return pages
        url = link
    raise AssertionError("catalog pagination did not end")


def test_catalog_lists_pushed_repositories_in_order(oci: OciClient, namespace_repos: list[str]) -> None:
    pages = _catalog_pages(oci, "/v2/_catalog", stop_after=namespace_repos[-1])
    repositories = [name for page in pages for name in page]
    assert repositories == sorted(repositories)
    assert len(repositories) == len(set(repositories))
    assert [name for name in repositories if name in namespace_repos] == namespace_repos


def test_catalog_n_and_last(oci: OciClient, namespace_repos: list[str]) -> None:
    response = oci.http.get("/v2/_catalog", params={"n": "2", "last": _just_before(namespace_repos[0])})
    assert response.json()["repositories"] == namespace_repos[:2]
    response = oci.http.get("/v2/_catalog", params={"n": "2", "last": namespace_repos[1]})
    assert response.json()["repositories"] == namespace_repos[2:4]


@pytest.mark.parametrize("page_size", [1, 2, 7])
def test_catalog_link_header_walks_everything_once(oci: OciClient, namespace_repos: list[str], page_size: int) -> None:
    start = _just_before(namespace_repos[0])
    pages = _catalog_pages(oci, f"/v2/_catalog?n={page_size}&last={start}", namespace_repos[-1])
    listed = [name for page in pages for name in page]
    assert all(len(page) <= page_size for page in pages)
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))
    assert [name for name in listed if name in namespace_repos] == namespace_repos


def test_catalog_n_zero_is_empty_without_link(oci: OciClient, namespace_repos: list[str]) -> None:
    response = oci.http.get("/v2/_catalog", params={"n": "0"})
    assert response.status_code == 200
    assert response.json()["repositories"] in ([], None)
    assert next_link(response) is None


def test_repository_appears_after_its_first_manifest(oci: OciClient) -> None:
    name = f"c{uuid.uuid4().hex[:10]}/fresh"
    oci.push(name, ol.image([{"fresh.txt": b"fresh"}]), tag="v1")
    response = oci.http.get("/v2/_catalog", params={"n": "1", "last": _just_before(name)})
    assert response.json()["repositories"] == [name]
