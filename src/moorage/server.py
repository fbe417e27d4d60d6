"""Running the ASGI application under uvicorn, in one process or several workers."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

from moorage.server_protocols import BoundedHttpToolsProtocol
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
    # The worker names the registry as the server does (signatures carry image references).
    env = {**os.environ, "MOORAGE_DATA_DIR": str(settings.data_dir),
           "MOORAGE_DATABASE_URL": settings.resolved_database_url,
           "MOORAGE_EXTERNAL_URL": settings.resolved_external_url}
    return subprocess.Popen([sys.executable, "-m", "moorage", "worker"], env=env)


def run_server(settings: Settings) -> None:
    """Serve until interrupted. Settings travel to workers through the environment, as JSON."""
    os.environ[_SETTINGS_ENV] = settings.model_dump_json()
    worker = _start_embedded_worker(settings)
    log.warning("moorage listening on %s (data in %s, external URL %s)",
                ", ".join(f"http://{h}:{settings.port}" for h in settings.listen_hosts), settings.data_dir,
                settings.resolved_external_url)
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


def bind_sockets(hosts: list[str], port: int) -> list[socket.socket]:
    """One listening TCP socket per address (IPv4 or IPv6), all on ``port``; closed again if any
    address cannot be bound, so a half-started server never lingers."""
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _serve(settings: Settings) -> None:
    if settings.server == "granian" and len(settings.listen_hosts) == 1:
        _serve_granian(settings)
    else:
        _serve_uvicorn(settings)


def _serve_granian(settings: Settings) -> None:
    """Granian: HTTP in Rust, request bodies handed over in large pieces, files sent by ``pathsend``
    (see the README's design notes for the measurements that chose it)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    # hyper buffers at most this much of a request head (and refuses more than 100 headers); the
    # buffer also carries body reads, so it never goes below granian's default (408 KiB).
    head_buffer = max(settings.http.max_header_bytes, HTTP1Settings.max_buffer_size)
    Granian(
        "moorage.server:app_factory",
        factory=True,
        address=settings.listen_hosts[0],
        port=settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=settings.workers,
        log_enabled=False,
        backlog=2048,
        http1_settings=HTTP1Settings(max_buffer_size=head_buffer),
    ).serve()


def _serve_uvicorn(settings: Settings) -> None:
    """Bind every listen address ourselves and hand the sockets to uvicorn (one process or several
    workers sharing them): uvicorn alone binds a single address (granian too: several addresses mean uvicorn)."""
    config = uvicorn.Config(
        "moorage.server:app_factory",
        factory=True,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=30,
        http=BoundedHttpToolsProtocol,  # httptools with a bound on the head (uvicorn bounds only h11's)
        h11_max_incomplete_event_size=settings.http.max_header_bytes,
    )
    sockets = bind_sockets(settings.listen_hosts, settings.port)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=sockets).run()
        else:
            uvicorn.Server(config).run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
