"""Start moorage for a bench, one way for every bench: ``moorage serve`` from a ``src`` tree (this
checkout's, or another tree's for an A/B run), with the bench's administrator, no access log and no
advisory feeds to download (a background build would weigh on the figures), waiting until it
answers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.support.servers import ServerProcess, start_moorage

from bench.registry_auth import Credentials

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
THIS_SRC = REPOSITORY_ROOT / "src"
"""The ``src`` of this checkout: the moorage measured unless a bench is given another."""
READY_TIMEOUT = 180.0
"""Seconds to wait for the first answer: migrations on a busy 2-core machine can take a while."""


def start(
    data_dir: Path,
    credentials: Credentials,
    *,
    src: Path = THIS_SRC,
    env: Mapping[str, str] | None = None,
    database_url: str | None = None,
    wait: bool = True,
) -> ServerProcess:
    """A moorage from ``src`` serving ``data_dir`` on a free loopback port, ready. ``env`` adds or
    overrides settings (``MOORAGE_*``); ``database_url``: PostgreSQL instead of SQLite in the data
    directory. ``wait=False``: started, not yet ready (the caller calls ``wait_ready``)."""
    settings = {
        # The tree's src first, so that an A/B run measures that tree and not the installed package.
        "PYTHONPATH": os.pathsep.join([str(src), str(REPOSITORY_ROOT)]),
        "MOORAGE_AUTH__ADMIN_USER": credentials.username,
        "MOORAGE_AUTH__ADMIN_PASSWORD": credentials.password,
        "MOORAGE_ACCESS_LOG": "false",
        "MOORAGE_SCANNER__VULNDB_SOURCES": "",
        **(env or {}),
    }
    if database_url is not None:
        settings["MOORAGE_DATABASE_URL"] = database_url
    server = start_moorage(data_dir, env=settings, wait=False)
    if wait:
        server.wait_ready(timeout=READY_TIMEOUT)  # stops the server if it does not answer in time
    return server
