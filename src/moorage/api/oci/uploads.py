"""``/v2/<name>/blobs/uploads/[<id>]``: start (monolithic, session, or mount), chunk, close, inspect,
cancel. Every answer carries ``Location``; session answers carry ``Range`` and ``Docker-Upload-UUID``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.access import PULL, PUSH, Access
from moorage.api.errors import oci_error_response
from moorage.api.oci.common import body_chunks, content_length, content_range, query_digest_required, services
from moorage.api.oci.routing import OciContext
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, MoorageError, RangeNotSatisfiable, Unauthenticated
from moorage.domain.names import RepositoryName
from moorage.domain.registry import Repository, UploadSession, UploadTarget


def _target(ctx: OciContext) -> UploadTarget:
    return UploadTarget(ctx.instance_id, ctx.repository, ctx.principal.domain_id)


def _state(request: Request) -> str | None:
    """The signed state of a session started without a row (``_state`` of its Location)."""
    return request.query_params.get("_state")


def _session_headers(ctx: OciContext, session: UploadSession) -> dict[str, str]:
    location = f"/v2/{ctx.repository}/blobs/uploads/{session.id}"
    return {
        "Location": location if session.state is None else f"{location}?_state={session.state}",
        "Range": f"0-{max(session.size - 1, 0)}",
        "Docker-Upload-UUID": session.id,
        "Content-Length": "0",
    }


def _created(ctx: OciContext, digest: Digest) -> Response:
    return Response(
        status_code=201,
        headers={
            "Location": f"/v2/{ctx.repository}/blobs/{digest}",
            "Docker-Content-Digest": str(digest),
            "Content-Length": "0",
        },
    )


def _range_error(ctx: OciContext, upload_id: str, error: RangeNotSatisfiable, state: str | None) -> Response:
    """416 with the Range the server holds, so the client can resume from there (at the Location it
    came to, signed state included)."""
    session = UploadSession(upload_id, str(ctx.repository), error.size, state=state)
    headers = _session_headers(ctx, session)
    del headers["Content-Length"]  # the error body has its own
    return oci_error_response(error, headers)


async def start_upload(request: Request, ctx: OciContext) -> Response:
    """POST: monolithic upload (``?digest=``), mount (``?mount=&from=``), or a new session."""
    svc = services(request)
    query = request.query_params
    target = _target(ctx)
    mount, source = query.get("mount"), query.get("from")
    if mount:
        digest = Digest.parse(mount)
        if source and (challenge := await _source_challenge(request, ctx, source)) is not None:
            return challenge
        source_repo = await _mount_source(request, ctx, source) if source else None
        if (
            source_repo is not None
            and await svc.blobs.mount(target=target, digest=digest, source=source_repo) is not None
        ):
            return _created(ctx, digest)
    elif query.get("digest") is not None:
        digest = Digest.parse(query_digest_required(request))
        await svc.uploads.monolithic(
            target=target, digest=digest, chunks=body_chunks(request), length=content_length(request)
        )
        return _created(ctx, digest)
    session = await svc.uploads.start(target=target)
    return Response(status_code=202, headers=_session_headers(ctx, session))


async def _source_challenge(request: Request, ctx: OciContext, source: str) -> Response | None:
    """401 with a challenge naming the mount's source too, when the bearer token does not mention the
    source at all but its holder may pull from it: the token was asked before the mount (the newest
    conformance suite caches one push token per repository), so the client asks again, as it would
    with distribution; otherwise None (a mount the caller may not make falls back to a session)."""
    granted = ctx.principal.granted
    if granted is None or f"repository:{source}" in granted:
        return None
    authorizer = request.app.state.authorizer
    wanted = Access("repository", source, (PULL,))
    if PULL not in await authorizer.allowed_actions(ctx.principal, wanted, ctx.instance_id):
        return None
    required = [Access("repository", str(ctx.repository), (PULL, PUSH)), wanted]
    return oci_error_response(
        Unauthenticated("the token does not cover the mount's source"),
        authorizer.challenge_headers(request, required, "insufficient_scope"),
    )


async def _mount_source(request: Request, ctx: OciContext, source: str) -> Repository | None:
    """The mount's source repository if it exists and the caller may pull from it; otherwise None,
    and the upload falls back to a session as the spec asks (never an error)."""
    try:
        name = RepositoryName.parse(source)
        repository = await services(request).repositories.find(instance_id=ctx.instance_id, name=name)
    except MoorageError:
        return None
    allowed = await request.app.state.authorizer.permits(
        request, ctx.principal, Access("repository", str(name), (PULL,))
    )
    return repository if allowed else None


async def patch_upload(request: Request, ctx: OciContext) -> Response:
    """PATCH: one chunk (with Content-Range) or a stream (without)."""
    svc = services(request)
    upload_id = ctx.params["upload"]
    target = _target(ctx)
    chunk_range = content_range(request)
    length = content_length(request)
    if chunk_range is not None:
        expected = chunk_range[1] - chunk_range[0] + 1
        if length is not None and length != expected:
            current = await svc.uploads.get(target=target, upload_id=upload_id, state=_state(request))
            return _range_error(
                ctx,
                upload_id,
                RangeNotSatisfiable(
                    f"Content-Range covers {expected} bytes but Content-Length is {length}", size=current.size
                ),
                _state(request),
            )
        length = expected
    try:
        session = await svc.uploads.append(
            target=target,
            upload_id=upload_id,
            chunks=body_chunks(request),
            start=chunk_range[0] if chunk_range else None,
            length=length,
            state=_state(request),
        )
    except RangeNotSatisfiable as error:
        return _range_error(ctx, upload_id, error, _state(request))
    return Response(status_code=202, headers=_session_headers(ctx, session))


async def finish_upload(request: Request, ctx: OciContext) -> Response:
    """PUT ``?digest=``: close the session, with or without a last chunk."""
    svc = services(request)
    upload_id = ctx.params["upload"]
    target = _target(ctx)
    raw = request.query_params.get("digest")
    if not raw:
        raise DigestInvalid("closing an upload needs ?digest=<algorithm>:<hex>")
    digest = Digest.parse(raw)
    length = content_length(request)
    chunk_range = content_range(request)
    if chunk_range is not None:
        session = await svc.uploads.get(target=target, upload_id=upload_id, state=_state(request))
        if chunk_range[0] != session.size:
            return _range_error(
                ctx,
                upload_id,
                RangeNotSatisfiable(
                    f"chunk starts at {chunk_range[0]} but the upload holds {session.size} bytes", size=session.size
                ),
                _state(request),
            )
    has_body = (length is None and "transfer-encoding" in request.headers) or bool(length)
    try:
        await svc.uploads.finish(
            target=target,
            upload_id=upload_id,
            digest=digest,
            chunks=body_chunks(request) if has_body else None,
            length=length,
            state=_state(request),
        )
    except RangeNotSatisfiable as error:
        return _range_error(ctx, upload_id, error, _state(request))
    return _created(ctx, digest)


async def get_upload(request: Request, ctx: OciContext) -> Response:
    """GET: how far the session got (204 with Range)."""
    svc = services(request)
    session = await svc.uploads.get(target=_target(ctx), upload_id=ctx.params["upload"], state=_state(request))
    return Response(status_code=204, headers=_session_headers(ctx, session))


async def cancel_upload(request: Request, ctx: OciContext) -> Response:
    """DELETE: abandon the session."""
    svc = services(request)
    await svc.uploads.cancel(target=_target(ctx), upload_id=ctx.params["upload"], state=_state(request))
    return Response(status_code=204, headers={"Content-Length": "0"})
