"""A full disk: moorage's blob storage on a 4 MiB tmpfs. A blob that does not fit is refused with
507 and an OCI error that says why; nothing partial is left behind; an upload session that hit the
limit keeps its size and can be continued; smaller pushes keep working."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MoorageFactory
from tests.oci.oci_client import OciClient, unique_repo, with_query
from tests.support import ocilayout as ol
from tests.support.devices import small_tmpfs

SIZE = 4 << 20


@pytest.fixture
def small_device(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "small-device", SIZE) as mountpoint:
        yield mountpoint


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_a_full_disk_refuses_the_blob_and_keeps_everything_else(
    moorage_factory: MoorageFactory, small_device: Path
) -> None:
    server = moorage_factory(env={"MOORAGE_STORAGE__ROOT": str(small_device)})
    repo = unique_repo("disk-full")
    fits = ol.Blob("application/octet-stream", os.urandom(100_000))
    too_big = ol.Blob("application/octet-stream", os.urandom(SIZE + (1 << 20)))
    with OciClient(server) as oci:
        oci.push_blob(repo, fits)

        refused = oci.http.post(
            f"/v2/{repo}/blobs/uploads/",
            params={"digest": too_big.digest},
            content=too_big.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert refused.status_code == 507, refused.text
        error = refused.json()["errors"][0]
        assert error["code"] == "UNKNOWN" and "storage is full" in error["message"]
        assert not oci.blob_exists(repo, too_big.digest)

        location = oci.start_upload(repo)
        chunk = oci.http.patch(location, content=too_big.data, headers={"Content-Range": f"0-{too_big.size - 1}"})
        assert chunk.status_code == 507, chunk.text
        status = oci.http.get(location)
        assert status.status_code == 204, status.text  # the session is still there ...
        assert status.headers["Range"] == "0-0"  # ... and holds none of the refused bytes (empty: 0-0)
        small = ol.Blob("application/octet-stream", os.urandom(50_000))
        step = oci.http.patch(location, content=small.data, headers={"Content-Range": f"0-{small.size - 1}"})
        assert step.status_code == 202, step.text
        closed = oci.http.put(with_query(oci.absolute(step.headers["Location"]), digest=small.digest))
        assert closed.status_code == 201, closed.text

        for blob in (fits, small):
            assert oci.http.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
        image = ol.image([{"after-full.txt": b"still works"}])
        oci.push(repo, image, tag="after")
        assert oci.get_manifest(repo, "after").content == image.manifest.data

    left = _files(small_device)
    assert sum(left.values()) < 1 << 20, left  # the refused megabytes are gone, not parked in tmp/
