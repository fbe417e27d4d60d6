"""Fixtures for the auth tests: one recording loopback server per test process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # uvicorn, requests and the SDK load only when a test asks for the recorder
    from tests.auth import recording_server


@pytest.fixture(scope="session")
def recorder() -> Iterator[recording_server.RecordingServer]:
    """A real HTTP server on 127.0.0.1 that records what SDK clients send; stopped at the end."""
    from tests.auth import recording_server

    with recording_server.running() as server:
        yield server
