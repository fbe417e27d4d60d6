"""The storage tests' S3 store: the contract suite's ``s3`` driver finds it in ``MOORAGE_TEST_S3``."""

from __future__ import annotations

import os

import pytest

from tests.support.seaweedfs import S3_ENV


@pytest.fixture(autouse=True)
def _s3_store_for_the_contract(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """For the driver contract suite, name the session's SeaweedFS in ``MOORAGE_TEST_S3`` (unless it
    already names a store: the suite then runs against that one, any S3-compatible store)."""
    if not request.module.__name__.endswith("test_driver_contract") or os.environ.get(S3_ENV):
        return
    monkeypatch.setenv(S3_ENV, request.getfixturevalue("s3_server").store_env())
