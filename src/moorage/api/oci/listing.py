"""Content discovery: ``/v2/`` (the version check), ``/v2/_catalog``, ``/v2/<name>/tags/list`` and
``/v2/<name>/referrers/<digest>``."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.oci.common import services
from moorage.api.oci.paging import next_link, page_request
from moorage.api.oci.routing import OciContext
from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest


def _json(body: object, headers: dict[str, str] | None = None, media_type: str = "application/json") -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), 200, headers, media_type)


async def base(request: Request, ctx: OciContext) -> Response:
    """``GET /v2/``: the API exists and the caller is authenticated."""
    return _json({})


async def catalog(request: Request, ctx: OciContext) -> Response:
    """Repository names, paginated with ``n``/``last`` and ``Link``."""
    svc = services(request)
    n, last = page_request(request, svc.settings.registry.page_max)
    limit = svc.settings.registry.page_max if n is None else n
    visible = await svc.permissions.visibility(ctx.principal, instance_id=ctx.instance_id)
    names = (
        await svc.repositories.catalog(instance_id=ctx.instance_id, limit=limit + 1, last=last, visible=visible)
        if limit
        else []
    )
    headers = {}
    if len(names) > limit:
        names = names[:limit]
        headers["Link"] = next_link("/v2/_catalog", limit, names[-1])
    return _json({"repositories": names}, headers)


async def tags_list(request: Request, ctx: OciContext) -> Response:
    """Tags of a repository in lexical order, paginated with ``n``/``last`` and ``Link``."""
    svc = services(request)
    repository = await svc.repositories.find(instance_id=ctx.instance_id, name=ctx.repository)
    n, last = page_request(request, svc.settings.registry.page_max)
    limit = svc.settings.registry.page_max if n is None else n
    tags = await svc.manifests.tags(repository=repository, limit=limit + 1, last=last) if limit else []
    headers = {}
    if len(tags) > limit:
        tags = tags[:limit]
        headers["Link"] = next_link(f"/v2/{ctx.repository}/tags/list", limit, tags[-1])
    return _json({"name": str(ctx.repository), "tags": tags}, headers)


async def referrers(request: Request, ctx: OciContext) -> Response:
    """An image index of the manifests whose subject is the digest (empty, not 404, when none, even in
    a repository that does not exist yet)."""
    svc = services(request)
    subject = Digest.parse(ctx.params["subject"])
    artifact_type = request.query_params.get("artifactType") or None
    found = await svc.manifests.referrers(
        instance_id=ctx.instance_id, name=ctx.repository, subject=subject, artifact_type=artifact_type
    )
    manifests = []
    for r in found:
        descriptor: dict[str, object] = {"mediaType": r.media_type, "digest": r.digest, "size": r.size}
        if r.artifact_type:
            descriptor["artifactType"] = r.artifact_type
        if r.annotations:
            descriptor["annotations"] = r.annotations
        manifests.append(descriptor)
    headers = {"OCI-Filters-Applied": "artifactType"} if artifact_type else {}
    return _json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": manifests}, headers, mt.OCI_INDEX)
