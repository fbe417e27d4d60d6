"""The console's own style sheet and scripts, served from the package under ``/console/static/``
(the Content-Security-Policy allows scripts and styles from there only). Read once when the
application is built; answered with their digests as ETags and cached for a day."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from fastapi import APIRouter, Request
from starlette.responses import Response

from moorage.api.console.route import SECURITY_HEADERS

ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file's bytes, type and ETag."""

    body: bytes
    media_type: str
    etag: str


def load_assets() -> MappingProxyType[str, Asset]:
    """Every asset, read from the package."""
    folder = resources.files("moorage.api.console") / "static"
    found = {}
    for name, media_type in ASSETS.items():
        body = (folder / name).read_bytes()
        found[name] = Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return MappingProxyType(found)


router = APIRouter(include_in_schema=False)


@router.get("/console/static/{name}")
async def asset(name: str, request: Request) -> Response:
    """A style sheet or script of the console (404 for any other name)."""
    assets: MappingProxyType[str, Asset] = request.app.state.console_assets
    found = assets.get(name)
    if found is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400", "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)
