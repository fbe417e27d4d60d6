"""Running the ASGI application under uvicorn, in one process or several workers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import uvicorn

from moorage.settings import Settings

log = logging.getLogger(__name__)

_SETTINGS_ENV = "MOORAGE__SERVE_SETTINGS"


def app_factory() -> object:
    """Build the application in a worker process from the settings the parent serialised."""
    from moorage.app import create_app

    settings = Settings.model_validate(json.loads(os.environ[_SETTINGS_ENV]))
    return create_app(settings)


def _start_embedded_worker(settings: Settings) -> subprocess.Popen[bytes] | None:
    """A ``moorage worker`` child beside the HTTP server (a process of its own: scans are CPU work
    that must not share the web server's interpreter)."""
    if not settings.jobs.embedded_worker:
        return None
    env = {**os.environ, "MOORAGE_DATA_DIR": str(settings.data_dir),
           "MOORAGE_DATABASE_URL": settings.resolved_database_url}
    return subprocess.Popen([sys.executable, "-m", "moorage", "worker"], env=env)


def run_server(settings: Settings) -> None:
    """Serve until interrupted. Settings travel to workers through the environment, as JSON."""
    os.environ[_SETTINGS_ENV] = settings.model_dump_json()
    worker = _start_embedded_worker(settings)
    log.warning("moorage listening on http://%s:%d (data in %s, external URL %s)",
                settings.host, settings.port, settings.data_dir, settings.resolved_external_url)
    try:
        _serve(settings)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _serve(settings: Settings) -> None:
    if settings.server == "granian":
        _serve_granian(settings)
    else:
        _serve_uvicorn(settings)


def _serve_granian(settings: Settings) -> None:
    """Granian: HTTP in Rust, request bodies handed over in large pieces, files sent by ``pathsend``
    (see the README's design notes for the measurements that chose it)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    Granian(
        "moorage.server:app_factory",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=settings.workers,
        log_enabled=False,
        backlog=2048,
    ).serve()


def _serve_uvicorn(settings: Settings) -> None:
    uvicorn.run(

        "moorage.server:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=30,
        h11_max_incomplete_event_size=64 * 1024,
    )
