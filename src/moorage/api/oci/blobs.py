"""``/v2/<name>/blobs/<digest>``: HEAD, GET (with ranges), DELETE."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from moorage.api.client_address import peer_is_trusted_proxy
from moorage.api.oci.common import requested_range, services
from moorage.api.oci.routing import OciContext
from moorage.domain.digests import Digest
from moorage.domain.errors import RangeNotSatisfiable


def _headers(digest: Digest, length: int) -> dict[str, str]:
    return {
        "Content-Length": str(length),
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }


def _accel_headers(digest: Digest, location: str) -> dict[str, str]:
    return {
        "X-Accel-Redirect": location,
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Cache-Control": "max-age=31536000",
        "Content-Type": "application/octet-stream",
    }


async def head_blob(request: Request, ctx: OciContext) -> Response:
    """Whether the repository has the blob, and its size."""
    svc = services(request)
    digest = Digest.parse(ctx.params["digest"])
    size = await svc.blobs.size_in(instance_id=ctx.instance_id, name=ctx.repository, digest=digest)
    return Response(status_code=200, headers=_headers(digest, size), media_type="application/octet-stream")


async def get_blob(request: Request, ctx: OciContext) -> Response:
    """The blob's bytes, or a byte range of them (206)."""
    svc = services(request)
    digest = Digest.parse(ctx.params["digest"])
    size = await svc.blobs.size_in(instance_id=ctx.instance_id, name=ctx.repository, digest=digest)
    redirect = svc.blobs.redirect_url(digest)
    if redirect is not None:
        # The object store serves the bytes (and the client's Range) itself, as distribution's redirect does.
        return Response(
            status_code=307, headers={"Location": redirect, "Docker-Content-Digest": str(digest), "Content-Length": "0"}
        )
    accel_prefix = svc.settings.storage.accel_redirect_prefix
    local_name = svc.blobs.local_name(digest) if accel_prefix and peer_is_trusted_proxy(request) else None
    if local_name is not None:
        # nginx in front sends the file (sendfile), Range included: moorage only authorized the read.
        # The internal location sets what nginx drops from this answer (the digest, ETag); the
        # request's own headers never reach this point (X-Accel-Redirect is read from answers only).
        # A peer that is not the trusted proxy (a client reaching the node directly) gets the bytes.
        return Response(status_code=200, headers=_accel_headers(digest, f"{accel_prefix}/{local_name}"))
    local = svc.blobs.local_file(digest)
    if (
        local is not None
        and "range" not in request.headers
        and "http.response.pathsend" in request.scope.get("extensions", {})
    ):
        # The server sends the file itself (granian: from Rust, without copying through Python).
        return FileResponse(local, headers=_headers(digest, size), media_type="application/octet-stream")
    try:
        byte_range, stream = await svc.blobs.stream(digest=digest, size=size, byte_range=requested_range(request, size))
    except RangeNotSatisfiable as error:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{error.size}"})
    if byte_range is None:
        return StreamingResponse(
            stream, status_code=200, headers=_headers(digest, size), media_type="application/octet-stream"
        )
    headers = _headers(digest, byte_range.length)
    headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    return StreamingResponse(stream, status_code=206, headers=headers, media_type="application/octet-stream")


async def delete_blob(request: Request, ctx: OciContext) -> Response:
    """Remove the blob from the repository."""
    svc = services(request)
    digest = Digest.parse(ctx.params["digest"])
    repository = await svc.repositories.find(instance_id=ctx.instance_id, name=ctx.repository)
    await svc.blobs.delete(repository=repository, digest=digest)
    return Response(status_code=202, headers={"Docker-Content-Digest": str(digest), "Content-Length": "0"})
