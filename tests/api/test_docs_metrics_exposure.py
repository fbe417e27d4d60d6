"""Who may read ``/docs``, ``/redoc``, ``/openapi.json`` and ``/metrics``: by default only when every
listen address is a loopback address; settings turn them on or off, and a metrics token guards
``/metrics``. In process (no server listens on a public address in the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from moorage.app import create_app
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.settings import Settings

PUBLIC = "0.0.0.0"
DOC_PATHS = ("/docs", "/redoc", "/openapi.json")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated data directory for every case (only the HTTP settings differ)."""
    directory = tmp_path_factory.mktemp("exposure")
    upgrade(Database(f"sqlite:///{directory / 'moorage.db'}"))
    return directory


def client(data_dir: Path, **settings: object) -> TestClient:
    return TestClient(create_app(Settings(data_dir=data_dir, **settings)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "api_docs", "served"),
    [
        ("127.0.0.1", "auto", True),
        ("localhost", "auto", True),
        ("127.0.0.1,127.0.0.5", "auto", True),
        (PUBLIC, "auto", False),
        ("127.0.0.1,192.0.2.10", "auto", False),
        ("::", "auto", False),
        (PUBLIC, "on", True),
        ("127.0.0.1", "off", False),
    ],
)
def test_api_documentation_exposure(data_dir: Path, host: str, api_docs: str, served: bool) -> None:
    with client(data_dir, host=host, http={"api_docs": api_docs}) as api:
        for path in DOC_PATHS:
            assert (api.get(path).status_code == 200) is served, (host, api_docs, path)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        (PUBLIC, False),
        ("::", False),
        ("192.0.2.10", False),
        ("127.0.0.1,::1", True),
        ("127.0.0.1,example.org", False),
    ],
)
def test_loopback_listeners(host: str, loopback: bool) -> None:
    assert Settings(host=host).loopback_only is loopback


@pytest.mark.parametrize(
    ("host", "metrics", "token", "anonymous", "with_token"),
    [
        ("127.0.0.1", "auto", None, 200, 200),
        (PUBLIC, "auto", None, 404, 404),
        (PUBLIC, "auto", "s3cret-metrics-token", 401, 200),
        ("127.0.0.1", "auto", "s3cret-metrics-token", 401, 200),
        (PUBLIC, "on", None, 200, 200),
        ("127.0.0.1", "off", "s3cret-metrics-token", 404, 404),
    ],
)
def test_metrics_exposure(
    data_dir: Path, host: str, metrics: str, token: str | None, anonymous: int, with_token: int
) -> None:
    with client(data_dir, host=host, http={"metrics": metrics, "metrics_token": token}) as api:
        assert api.get("/metrics").status_code == anonymous
        assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code in (anonymous, 401, 404)
        answer = api.get("/metrics", headers={"Authorization": f"Bearer {token or 'none'}"})
        assert answer.status_code == with_token
        if with_token == 200:
            assert "moorage_http_requests_total" in answer.text
