"""moorage inside the test process, for service-level tests: ``create_app(Settings(...))`` over SQLite
in a temporary directory, migrated and bootstrapped as ``moorage serve`` does, its lifespan run, and
requests sent through an httpx client whose transport calls the ASGI application directly (no
socket, no child process).

Starting one costs about 1 s of CPU (migrations, the administrator's password hash) against 5-8 s for
a ``moorage serve`` child (a fresh interpreter importing everything, then the same work), so a test
can have a server of its own instead of sharing one with the module and depending on what earlier
tests left in it.

What it does not do: listen on a port (real clients such as skopeo, podman or the Huawei SDKs need
``moorage_factory``/``shared_moorage``), run the job worker (scans, signing and replication need a
real server), or go through granian's HTTP parsing.

The client is Starlette's ``TestClient``, an ``httpx.Client`` whose transport hands each request to
the application on an event loop that lives as long as the fixture (the lifespan's background tasks
run there): the synchronous twin of ``httpx.ASGITransport``, which serves async clients only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from moorage.app import MoorageApp
    from moorage.services.wiring import Services
    from moorage.settings import Settings

ADDRESS = "127.0.0.1:5000"
"""The address the application believes it serves (its default external URL); nothing listens there."""
CLIENT = ("127.0.0.1", 40000)
"""The TCP peer every request appears to come from."""


@dataclass
class InProcessMoorage:
    """A running application and how to reach it. ``base_url`` and ``address`` mirror ``ServerProcess``
    so that assertions on URLs (token realms, ``Location`` headers) read the same."""

    settings: Settings
    app: MoorageApp
    http: httpx.Client
    """Sends requests to the application (no credentials); ``client()`` makes more with headers."""

    @property
    def base_url(self) -> str:
        return f"http://{ADDRESS}"

    @property
    def address(self) -> str:
        return ADDRESS

    @property
    def env(self) -> dict[str, str]:
        """Its settings as ``moorage`` commands read them (data directory, database, administrator)."""
        auth = self.settings.auth
        password = auth.admin_password.get_secret_value() if auth.admin_password else ""
        return {
            "MOORAGE_DATA_DIR": str(self.settings.data_dir),
            "MOORAGE_DATABASE_URL": self.settings.database_url,
            "MOORAGE_AUTH__ADMIN_USER": auth.admin_user,
            "MOORAGE_AUTH__ADMIN_PASSWORD": password,
        }

    @property
    def services(self) -> Services:
        """The application's services (for arranging state a test does not exercise over HTTP)."""
        services: Services = self.app.state.services
        return services

    def client(self, *, headers: dict[str, str] | None = None, auth: Any = None) -> httpx.Client:
        """A client of its own (headers, auth) on the same application and event loop."""
        return httpx.Client(base_url=self.base_url, transport=self.http._transport, headers=headers, auth=auth)


def settings_for(data_dir: Path, *, database_url: str | None = None, **overrides: Any) -> Settings:
    """Settings of an in-process server on ``data_dir`` (SQLite there unless ``database_url``), with
    the suite's administrator; ``overrides`` are Settings fields (nested ones as dicts)."""
    from moorage.settings import Settings
    from tests.conftest import ADMIN_PASSWORD, ADMIN_USER

    auth = {"admin_user": ADMIN_USER, "admin_password": ADMIN_PASSWORD, **overrides.pop("auth", {})}
    return Settings(
        data_dir=data_dir,
        database_url=database_url or f"sqlite:///{data_dir / 'moorage.db'}",
        access_log=False,
        auth=auth,
        **overrides,
    )


@contextmanager
def running(settings: Settings) -> Iterator[InProcessMoorage]:
    """Migrate and bootstrap ``settings``' database, build the application and run its lifespan for
    the ``with`` block."""
    from moorage.app import create_app
    from moorage.bootstrap import bootstrap

    with warnings.catch_warnings():  # Starlette suggests httpx2 for its test client; httpx is what we have
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from starlette.testclient import TestClient

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bootstrap(settings)
    app = create_app(settings)
    # follow_redirects off and server errors answered as responses, as a real server and client do.
    with TestClient(
        app, base_url=f"http://{ADDRESS}", client=CLIENT, follow_redirects=False, raise_server_exceptions=False
    ) as http:
        yield InProcessMoorage(settings, app, http)
