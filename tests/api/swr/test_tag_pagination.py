"""Paging through a repository with thousands of tags: every tag seen exactly once, in the requested
order (compared with an oracle read from the database), with the right ``Content-Range`` totals, for
the v2 offset pages (both parameter forms) and the v3 keyset pages, also while tags change."""

from __future__ import annotations

import time
from typing import Any

import pytest
from huaweicloudsdkswr.v2 import ListRepositoryTagsRequest
from sqlalchemy import select, update

from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.database import Database
from moorage.metadata.queries import manifests as manifest_q
from moorage.metadata.queries import repositories as repo_q
from moorage.metadata.tables import repositories, tags
from tests.api.swr.conftest import Swr
from tests.support.swr_images import image, push

NS, REPO = "org-pages", "many"
TAG_COUNT = 3000
TAGS_URL = f"/v2/manage/namespaces/{NS}/repos/{REPO}/tags"
V3_URL = f"/v3/manage/namespaces/{NS}/repos/{REPO}/tags"


def _database(swr: Swr) -> Database:
    return Database(swr.server.env["MOORAGE_DATABASE_URL"], pool_size=1)


Row = tuple[int, str, int, int]


def make_tags(swr: Swr, repository: str, count: int) -> list[Row]:
    """Push one image to ``org-pages/<repository>``, then give it ``count`` more tags through the
    registry's own tag query (in this process, one transaction), a third of them with update times
    shuffled and often equal (ties break by id). Every tag as (id, name, updated_at, created_at)."""
    with swr.registry() as registry:
        push(registry, f"{NS}/{repository}", "seed", image([{"p": b"pages"}], label="pages"))
    database = _database(swr)
    try:

        def work(conn: Any) -> list[Row]:
            found = repo_q.get(conn, DEFAULT_INSTANCE, RepositoryName(NS, repository))
            assert found is not None
            record = manifest_q.by_tag(conn, found.id, "seed", with_payload=False)
            assert record is not None
            for i in range(count):
                manifest_q.tag(conn, found.id, f"t{i:05d}", record.id)
            base = 1_700_000_000_000
            for i in range(0, count, 3):
                conn.execute(
                    update(tags)
                    .where(tags.c.repository_id == found.id, tags.c.name == f"t{i:05d}")
                    .values(updated_at=base + (i * 7919) % 500)
                )
            rows = conn.execute(
                select(tags.c.id, tags.c.name, tags.c.updated_at, tags.c.created_at).where(
                    tags.c.repository_id == found.id
                )
            )
            counter = conn.execute(select(repositories.c.tag_count).where(repositories.c.id == found.id))
            assert counter.scalar_one() == count + 1  # the registry's counter stayed true
            return [(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

        started = time.perf_counter()
        rows = database.run_write(work)
        print(f"{count} tags made in {time.perf_counter() - started:.2f}s")
        return rows
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def oracle(swr: Swr) -> list[Row]:
    """``org-pages/many`` with ``TAG_COUNT`` + 1 tags."""
    with swr.api() as api:
        assert api.post("/v2/manage/namespaces", json={"namespace": NS}).status_code == 201
    return make_tags(swr, REPO, TAG_COUNT)


def _by(rows: list[Row], column: str, descending: bool) -> list[str]:
    key = {
        "updated_at": lambda r: (r[2], r[0]),
        "created_at": lambda r: (r[3], r[0]),
        "tag": lambda r: (r[1].encode(), r[0]),
    }[column]
    return [r[1] for r in sorted(rows, key=key, reverse=descending)]


@pytest.mark.parametrize(
    ("column", "descending", "limit", "form"),
    [
        ("updated_at", False, 1000, "plain"),
        ("updated_at", True, 700, "filter"),
        ("tag", True, 999, "plain"),
        ("created_at", False, 1000, "filter"),
    ],
)
def test_v2_offset_pages_see_every_tag_once_in_order(
    swr: Swr, oracle: list[Row], column: str, descending: bool, limit: int, form: str
) -> None:
    total = len(oracle)
    seen: list[str] = []
    order = "desc" if descending else "asc"
    with swr.api() as api:
        for offset in range(0, total, limit):
            if form == "plain":
                params = {"offset": str(offset), "limit": str(limit), "order_column": column, "order_type": order}
            else:
                params = {"filter": f"offset::{offset}|limit::{limit}|order_column::{column}|order_type::{order}"}
            page = api.get(TAGS_URL, params=params)
            assert page.status_code == 200, page.text
            items = page.json()
            assert page.headers["Content-Range"] == f"{offset}-{len(items)}/{total}"
            assert len(items) == min(limit, total - offset)
            seen += [item["Tag"] for item in items]
    assert seen == _by(oracle, column, descending)
    assert len(set(seen)) == total


def test_v2_filtered_pages_count_only_matching_tags(swr: Swr, oracle: list[Row]) -> None:
    matching = [r for r in oracle if "t01" in r[1]]
    seen: list[str] = []
    with swr.api() as api:
        for offset in range(0, len(matching) + 300, 300):  # one page past the end: empty, same total
            page = api.get(
                TAGS_URL,
                params={"filter": f"tag::T01|limit::300|offset::{offset}|order_column::tag|order_type::asc"}
                if offset % 600
                else {"tag": "t01", "limit": "300", "offset": str(offset), "order_column": "tag", "order_type": "asc"},
            )
            count = max(0, min(300, len(matching) - offset))
            assert page.headers["Content-Range"] == f"{offset}-{count}/{len(matching)}"
            seen += [t["Tag"] for t in page.json()]
    assert seen == _by(matching, "tag", False)
    sdk_page = swr.sdk().list_repository_tags(
        ListRepositoryTagsRequest(namespace=NS, repository=REPO, limit="5", offset="0", tag="t01")
    )
    assert sdk_page.content_range == f"0-5/{len(matching)}" and len(sdk_page.body) == 5


def _walk_v3(api: Any, params: dict[str, str]) -> list[str]:
    seen: list[str] = []
    marker = None
    while True:
        page = api.get(V3_URL, params={**params, **({"marker": marker} if marker else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [t["tag"] for t in body["tags"]]
        assert body["has_more"] is ("nextMarker" in body)
        if not body["has_more"]:
            return seen
        marker = body["nextMarker"]


@pytest.mark.parametrize(
    ("column", "descending", "limit"), [("updated_at", True, 1000), ("tag", False, 999), ("created_at", True, 800)]
)
def test_v3_keyset_pages_see_every_tag_once_in_order(
    swr: Swr, oracle: list[Row], column: str, descending: bool, limit: int
) -> None:
    with swr.api() as api:
        seen = _walk_v3(
            api, {"limit": str(limit), "order_column": column, "order_type": "desc" if descending else "asc"}
        )
    assert seen == _by(oracle, column, descending)


def test_v3_keyset_pages_hold_while_tags_change(swr: Swr, oracle: list[Row]) -> None:
    """Deleting tags already seen and adding one ahead of the cursor neither repeats nor skips the others."""
    names = sorted(r[1] for r in make_tags(swr, "changing", 1200))
    url = f"/v3/manage/namespaces/{NS}/repos/changing/tags"
    params = {"limit": "500", "order_column": "tag", "order_type": "asc"}
    with swr.api() as api:
        first = api.get(url, params=params).json()
        seen = [t["tag"] for t in first["tags"]]
        for gone in seen[100:110]:
            assert api.delete(f"/v2/manage/namespaces/{NS}/repos/changing/tags/{gone}").status_code == 204
        assert (
            api.post(
                f"/v2/manage/namespaces/{NS}/repos/changing/tags",
                json={"source_tag": "seed", "destination_tag": "u-late"},
            ).status_code
            == 201
        )
        marker = first["nextMarker"]
        while marker:
            page = api.get(url, params={**params, "marker": marker}).json()
            seen += [t["tag"] for t in page["tags"]]
            marker = page.get("nextMarker")
    assert seen == [*names, "u-late"]  # the deleted ones were seen before they went; the new one once
