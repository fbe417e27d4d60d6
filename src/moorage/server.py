"""Running the ASGI application under uvicorn, in one process or several workers."""

from __future__ import annotations

import json
import logging
import os

import uvicorn

from moorage.settings import Settings

log = logging.getLogger(__name__)

_SETTINGS_ENV = "MOORAGE__SERVE_SETTINGS"


def app_factory() -> object:
    """Build the application in a worker process from the settings the parent serialised."""
    from moorage.app import create_app

    settings = Settings.model_validate(json.loads(os.environ[_SETTINGS_ENV]))
    return create_app(settings)


def run_server(settings: Settings) -> None:
    """Serve until interrupted. Settings travel to workers through the environment, as JSON."""
    os.environ[_SETTINGS_ENV] = settings.model_dump_json()
    log.warning("moorage listening on http://%s:%d (data in %s, external URL %s)",
                settings.host, settings.port, settings.data_dir, settings.resolved_external_url)
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
