"""``moorage serve`` listens on several addresses at once (repeated ``--host``), also with several
HTTP worker processes sharing the sockets."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.enterprise.conftest import StartServer

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[str]:
    """Command lines of the direct children of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_two_addresses_two_workers(ee_server_factory: StartServer) -> None:
    server = ee_server_factory(env={"MOORAGE_WORKERS": "2"})
    for address in ("127.0.0.1", "127.0.0.5"):
        for _ in range(10):
            response = httpx.get(f"http://{address}:{server.port}/healthz", timeout=30)
            assert response.status_code == 200 and response.json()["status"] == "ok"
    children = _children(server.process.pid)
    http_workers = [c for c in children if "spawn_main" in c]  # not the resource tracker
    job_workers = [c for c in children if "moorage worker" in c]
    assert (len(http_workers), len(job_workers)) == (2, 1), children
