"""A null registry for blob pushes as a bare ASGI application, served by granian as moorage is: what
the HTTP server alone costs a push, with no storage, no database and no framework.

``bench/null_server.py`` measures the load generator's ceiling (raw sockets, httptools); this one
measures the ceiling of moorage's HTTP server on the same machine: a 512 MiB push can be no faster
through moorage than granian hands its body to Python. With ``NULL_ASGI_SHA256=1`` it also hashes each
body with sha256 in 4 MiB batches on a worker thread, pipelined with the receiving as moorage's
``BlobStore.append`` does, which adds the one piece of work a registry cannot skip.

It answers only what ``bench/push_bench.py`` sends: the blob HEAD (404), ``POST ?digest=`` (201),
POST (202 with a session), PATCH (202), the closing PUT (201). Bodies are read and dropped.

    python -m granian --interface asgi --workers 2 --no-ws bench.null_asgi:app
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from typing import Any

from starlette.types import Receive, Scope, Send

BATCH = 4 << 20
"""As ``moorage.storage.blobstore.BATCH``."""
HASHING = os.environ.get("NULL_ASGI_SHA256") == "1"


async def _drain(receive: Receive) -> int:
    """Read the request's body to its end; with ``HASHING``, hash it off the event loop. Its size."""
    received = 0
    hasher = hashlib.sha256()
    pending: asyncio.Future[None] | None = None
    pieces: list[bytes] = []
    gathered = 0
    while True:
        message = await receive()
        body: bytes = message.get("body", b"")
        received += len(body)
        if HASHING and body:
            pieces.append(body)
            gathered += len(body)
            if gathered >= BATCH:
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(asyncio.to_thread(_hash, hasher, pieces))
                pieces, gathered = [], 0
        if not message.get("more_body", False):
            break
    if pending is not None:
        await pending
    if pieces:
        _hash(hasher, pieces)
    return received


def _hash(hasher: Any, pieces: list[bytes]) -> None:
    for piece in pieces:
        hasher.update(piece)


async def _answer(send: Send, status: int, headers: dict[str, str] | None = None) -> None:
    encoded = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-length", b"0"), *encoded]})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point (lifespan and HTTP)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    method, path, query = scope["method"], scope["path"], scope["query_string"].decode()
    if method in ("GET", "HEAD") and path == "/v2/":
        await _answer(send, 200)
        return
    if method == "HEAD":
        await _answer(send, 404)
        return
    await _drain(receive)
    if "/blobs/uploads/" not in path:
        await _answer(send, 404)
    elif method == "POST" and "digest=" not in query:
        await _answer(send, 202, {"Location": f"{path.rstrip('/')}/{uuid.uuid4()}", "Range": "0-0"})
    elif method == "PATCH":
        await _answer(send, 202, {"Location": path})
    else:  # POST ?digest= or the closing PUT
        await _answer(send, 201, {"Location": path})
