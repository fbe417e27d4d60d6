"""The two image lists through the official ``huaweicloudsdkhss`` client: every field with the type
its model declares, and the filter combinations, sort keys, directions and offset/limit bounds of
ListSwrImageRepository and ListRegistryImages, checked against an oracle over the seeded rows (tests/hss/seed.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss.v5 import HssClient, ListRegistryImagesRequest, ListSwrImageRepositoryRequest

from moorage.domain.security import FAILURE_DESCRIPTIONS
from tests.hss import seed
from tests.hss.conftest import new_account
from tests.hss.support import hss_client, opened
from tests.support.servers import ServerProcess


@dataclass
class World:
    client: HssClient
    images: list[seed.SeedImage]

    def by_id(self, row_id: int) -> seed.SeedImage:
        return next(i for i in self.images if i.row_id == row_id)


@pytest.fixture(scope="module")
def world(hss_server: ServerProcess) -> Iterator[World]:
    account = new_account(hss_server, "hss-lists")
    images = seed.generate()
    with opened(hss_server) as db:
        seed.write(db, seed.domain_id_of(db, account.account.domain), images)
    yield World(hss_client(hss_server, account.keys), images)


def check_types(model: Any) -> None:
    """Every attribute the SDK model declares is present with its declared type."""
    for attribute, declared in model.openapi_types.items():
        value = getattr(model, attribute)
        assert value is not None, f"{type(model).__name__}.{attribute} is missing"
        if declared == "int":
            assert isinstance(value, int) and not isinstance(value, bool), (attribute, value)
        elif declared == "bool":
            assert isinstance(value, bool), (attribute, value)
        elif declared == "str":
            assert isinstance(value, str), (attribute, value)
        elif declared.startswith("list["):
            assert isinstance(value, list), (attribute, value)
            for item in value:
                check_types(item)


def registry_list(world: World, **filters: Any) -> tuple[list[int], int]:
    answer = world.client.list_registry_images(ListRegistryImagesRequest(limit=200, **filters))
    return [row.id for row in answer.data_list], answer.total_num


def test_every_field_with_its_type(world: World) -> None:
    answer = world.client.list_registry_images(ListRegistryImagesRequest(limit=200))
    assert answer.total_num == len(world.images) == len(answer.data_list)
    for row in answer.data_list:
        check_types(row)
        image = world.by_id(row.id)
        assert (row.namespace, row.image_name, row.image_version, row.image_digest) == (
            image.namespace,
            image.image_name,
            image.image_version,
            image.digest,
        )
        assert (row.image_type, row.registry_name, row.registry_type) == (
            image.image_type,
            image.registry,
            image.registry_type,
        )
        assert (row.scan_status, row.vul_num, row.malicious_file_num, row.unsafe_setting_num) == (
            image.scan_status,
            image.vul_num,
            image.malicious_num,
            image.unsafe_num,
        )
        assert row.severity_level == image.level
        assert row.scan_failed_code == image.failed_code
        assert row.scan_failed_desc == (FAILURE_DESCRIPTIONS[image.failed_code] if image.failed_code else "")
        assert (row.image_size, row.latest_update_time, row.latest_scan_time, row.latest_sync_time) == (
            image.size,
            image.updated_at,
            image.scan_time,
            image.sync_time,
        )
        assert row.latest_version is image.latest
        assert row.is_multiple_arch is bool(image.platforms)
        assert (row.instance_id, row.instance_name, row.domain_name, row.shared_status) == (
            image.instance_id,
            image.instance_name,
            image.domain_name,
            image.shared_status,
        )
        assert row.scannable is (image.shared_status != "expired")
        assert [a.image_digest for a in row.association_images] == [image.platform_digest(p) for p in image.platforms]
        for child in row.association_images:
            assert child.scan_status == image.scan_status and child.image_type == image.image_type
            assert child.vul_num == image.vul_num and child.image_version == image.image_version


def _filter_cases() -> list[dict[str, Any]]:
    t0 = seed.BASE_TIME
    cases: list[dict[str, Any]] = [
        {},
        {"namespace": "alpha"},
        {"namespace": "nope"},
        {"image_name": "web"},
        {"image_name": "admin"},
        {"image_version": "v1."},
        {"image_version": ".1"},
        {"registry_name": "harbor-a"},
        {"registry_name": "SWR shared"},
        {"image_type": "private_image"},
        {"image_type": "jfrog"},
        {"image_type": "other"},
        {"image_type": "instance_image"},
        *({"scan_status": s} for s in ("unscan", "success", "failed", "scanning", "waiting_for_scan")),
        {"latest_version": True},
        {"latest_version": False},
        {"image_size": 2_000_000},
        {"image_size": 0},
        {"has_vul": True},
        {"has_vul": False},
        {"has_malicious_file": True},
        {"has_malicious_file": False},
        {"has_unsafe_setting": True},
        {"has_unsafe_setting": False},
        {"risky": True},
        {"risky": False},
        *({"severity_level": s} for s in ("Security", "Low", "Medium", "High")),
        {"is_multarch": True},
        {"is_multarch": False},
        {"instance_id": "inst-1"},
        {"instance_name": "instance-one"},
        {"start_latest_update_time": t0 + 3 * 10**8},
        {"end_latest_update_time": t0 + 6 * 10**8},
        {"start_latest_update_time": t0 + 2 * 10**8, "end_latest_update_time": t0 + 7 * 10**8},
        {"start_latest_scan_time": t0 + 2 * 10**9 + 3 * 10**7},
        {"start_latest_scan_time": 1, "end_latest_scan_time": t0 + 2 * 10**9 + 6 * 10**7},
        {"start_latest_sync_time": t0 + 10**9 + 10_000, "end_latest_sync_time": t0 + 10**9 + 30_000},
        {"namespace": "beta", "image_name": "api", "image_version": "v"},
        {"scan_status": "success", "has_vul": True, "severity_level": "High"},
        {"registry_name": "SWR private", "latest_version": True, "is_multarch": False},
        {"image_type": "harbor", "risky": False, "scan_status": "success"},
        {"namespace": "gamma", "has_unsafe_setting": False, "has_malicious_file": False, "image_size": 4_000_000},
        {"image_type": "shared_image", "start_latest_update_time": t0, "end_latest_update_time": t0 + 10**9},
    ]
    return cases


@pytest.mark.parametrize("filters", _filter_cases(), ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "all")
def test_registry_image_filters(world: World, filters: dict[str, Any]) -> None:
    ids, total = registry_list(world, **filters)
    wanted = [i.row_id for i in seed.expected(world.images, filters)]
    assert ids == wanted and total == len(wanted)


@pytest.mark.parametrize("sort_key", ["latest_scan_time", "latest_update_time", "image_size", "latest_sync_time"])
@pytest.mark.parametrize("sort_dir", ["asc", "desc", None])
def test_registry_image_sort_keys_and_directions(world: World, sort_key: str, sort_dir: str | None) -> None:
    filters = {"sort_key": sort_key, **({"sort_dir": sort_dir} if sort_dir else {})}
    ids, _total = registry_list(world, **filters)
    assert ids == [i.row_id for i in seed.expected(world.images, {}, sort_key=sort_key, sort_dir=sort_dir or "asc")]


def test_registry_image_pages_cover_the_list_once(world: World) -> None:
    whole, total = registry_list(world, sort_key="latest_scan_time", sort_dir="desc")
    paged: list[int] = []
    for offset in range(0, total + 7, 7):
        answer = world.client.list_registry_images(
            ListRegistryImagesRequest(offset=offset, limit=7, sort_key="latest_scan_time", sort_dir="desc")
        )
        assert answer.total_num == total and len(answer.data_list) <= 7
        paged += [row.id for row in answer.data_list]
    assert paged == whole
    default = world.client.list_registry_images(ListRegistryImagesRequest())
    assert len(default.data_list) == 10  # the documented default limit
    beyond = world.client.list_registry_images(ListRegistryImagesRequest(offset=2_000_000, limit=200))
    assert beyond.data_list == [] and beyond.total_num == total


@pytest.mark.parametrize(
    "bad",
    [
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
        {"offset": 2_000_001},
        {"image_type": "local_image"},
        {"sort_key": "colour"},
        {"sort_dir": "up"},
        {"scan_status": "done"},
        {"severity_level": "Critical"},
        {"image_size": -5},
    ],
)
def test_registry_image_bad_parameters(world: World, bad: dict[str, Any]) -> None:
    with pytest.raises(ClientRequestException) as caught:
        world.client.list_registry_images(ListRegistryImagesRequest(**bad))
    assert caught.value.status_code == 400 and caught.value.error_code == "HSS.1001"


SWR_CASES = [
    ("private_image", {}),
    ("shared_image", {}),
    ("instance_image", {}),
    ("private_image", {"namespace": "alpha", "image_name": "web"}),
    ("shared_image", {"scan_status": "success"}),
    ("private_image", {"latest_version": True}),
    ("instance_image", {"instance_name": "instance-one"}),
    ("instance_image", {"instance_id": "inst-1", "has_vul": True}),
    ("private_image", {"has_malicious_file": True}),
    ("shared_image", {"has_unsafe_setting": False, "image_size": 3_000_000}),
    (
        "private_image",
        {"start_latest_update_time": seed.BASE_TIME + 2 * 10**8, "end_latest_update_time": seed.BASE_TIME + 9 * 10**8},
    ),
    ("private_image", {"start_latest_scan_time": 1}),
]


@pytest.mark.parametrize(("image_type", "filters"), SWR_CASES)
def test_swr_image_list(world: World, image_type: str, filters: dict[str, Any]) -> None:
    answer = world.client.list_swr_image_repository(
        ListSwrImageRepositoryRequest(
            image_type=image_type, limit=200, enterprise_project_id="all_granted_eps", **filters
        )
    )
    wanted = seed.expected(world.images, {"image_type": image_type, **filters})
    assert [row.id for row in answer.data_list] == [i.row_id for i in wanted]
    assert answer.total_num == len(wanted)
    for row in answer.data_list:
        check_types(row)
        image = world.by_id(row.id)
        assert row.scan_failed_desc == image.failed_code  # ListSwrImageRepository lists the failure codes in this field
        assert [a.image_digest for a in row.association_images] == [image.platform_digest(p) for p in image.platforms]


def test_swr_image_list_local_images_and_bounds(world: World) -> None:
    empty = world.client.list_swr_image_repository(ListSwrImageRepositoryRequest(image_type="local_image"))
    assert empty.total_num == 0 and empty.data_list == []
    for bad in (
        {"image_type": "harbor"},
        {"image_type": "private_image", "limit": 201},
        {"image_type": "private_image", "offset": 2_000_001},
    ):
        with pytest.raises(ClientRequestException) as caught:
            world.client.list_swr_image_repository(ListSwrImageRepositoryRequest(**bad))
        assert caught.value.status_code == 400
    pages = [
        world.client.list_swr_image_repository(
            ListSwrImageRepositoryRequest(image_type="private_image", offset=offset, limit=2)
        )
        for offset in (0, 2, 4)
    ]
    ids = [row.id for page in pages for row in page.data_list]
    assert ids == [i.row_id for i in seed.expected(world.images, {"image_type": "private_image"})][:6]
