"""Fixtures for the auth tests: one recording loopback server per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auth import recording_server


@pytest.fixture(scope="session")
def recorder() -> Iterator[recording_server.RecordingServer]:
    """A real HTTP server on 127.0.0.1 that records what SDK clients send; stopped at the end."""
    with recording_server.running() as server:
        yield server
