"""A blob HEAD (a push asks one for every blob before uploading it) reads the repository and the blob
in one read transaction, and still tells an unknown repository from an unknown blob on GET."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, AppFactory
from tests.support import swr_images as si


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_blob_head_is_one_read(
    app_moorage_factory: AppFactory, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = app_moorage_factory(database=database)
    image = si.image([{"a.txt": b"headed"}], label="head")
    config = image.blobs[0]
    db = node.services.db
    reads: list[Callable[..., Any]] = []
    real_read = db.read

    async def counting_read(work: Callable[..., Any], **options: Any) -> Any:
        if work.__qualname__.startswith(("BlobService.", "RepositoryService.")):  # not the credentials' reads
            reads.append(work)
        return await real_read(work, **options)

    with node.client(auth=(ADMIN_USER, ADMIN_PASSWORD)) as client:
        si.push(client, "team/headed", "v1", image)
        client.head(f"/v2/team/headed/blobs/{config.digest}")  # the login and token reads happen here once
        monkeypatch.setattr(db, "read", counting_read)

        found = client.head(f"/v2/team/headed/blobs/{config.digest}")
        assert found.status_code == 200 and found.headers["content-length"] == str(len(config.data))
        assert len(reads) == 1
        missing = client.head(f"/v2/team/headed/blobs/sha256:{'0' * 64}")
        assert missing.status_code == 404 and len(reads) == 2
        nowhere = client.head(f"/v2/team/nowhere/blobs/{config.digest}")
        assert nowhere.status_code == 404 and len(reads) == 3

        assert client.get(f"/v2/team/headed/blobs/sha256:{'0' * 64}").json()["errors"][0]["code"] == "BLOB_UNKNOWN"
        assert client.get(f"/v2/team/nowhere/blobs/{config.digest}").json()["errors"][0]["code"] == "NAME_UNKNOWN"
        assert client.get(f"/v2/team/headed/blobs/{config.digest}").content == config.data
