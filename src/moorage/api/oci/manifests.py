"""``/v2/<name>/manifests/<reference>``: GET, HEAD, PUT, DELETE by tag or digest."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from moorage.api.oci.common import read_body, services
from moorage.api.oci.routing import OciContext
from moorage.domain.registry import ManifestRecord, UploadTarget


def _accept(request: Request) -> list[str]:
    return [part.strip() for value in request.headers.getlist("accept") for part in value.split(",") if part.strip()]


async def get_manifest(request: Request, ctx: OciContext) -> Response:
    """The manifest, with its media type and digest (HEAD: the same headers, no body)."""
    svc = services(request)
    head = request.method == "HEAD"
    gate, signatures = svc.security.pull_gate, svc.enterprise.hooks

    async def guard(found: ManifestRecord) -> None:
        # An organization's security policy may refuse pulls of images with serious findings, and an
        # Enterprise Edition namespace may refuse unsigned images.
        await gate.check(instance_id=ctx.instance_id, namespace=ctx.repository.namespace, digest=found.digest)
        await signatures.check_pull(ctx.instance_id, ctx.repository, found)

    record = await svc.manifests.get(
        instance_id=ctx.instance_id,
        name=ctx.repository,
        reference=ctx.params["reference"],
        accept=_accept(request),
        with_payload=not head,
        guard=guard,
    )
    headers = {
        "Docker-Content-Digest": record.digest,
        "ETag": f'"{record.digest}"',
        "Content-Length": str(record.size),
        "Content-Type": record.media_type,
    }
    return Response(b"" if head else record.payload, status_code=200, headers=headers)


async def put_manifest(request: Request, ctx: OciContext) -> Response:
    """Store a manifest; tag it when the reference is a tag, and with each ``?tag=`` (the spec's
    tag parameters, answered with ``OCI-Tag``)."""
    svc = services(request)
    payload = await read_body(request, limit=svc.settings.registry.manifest_max_bytes)
    stored = await svc.manifests.put(
        target=UploadTarget(ctx.instance_id, ctx.repository, ctx.principal.domain_id),
        reference=ctx.params["reference"],
        content_type=request.headers.get("content-type"),
        payload=payload,
        extra_tags=request.query_params.getlist("tag"),
    )
    headers = {
        "Location": f"/v2/{ctx.repository}/manifests/{stored.digest}",
        "Docker-Content-Digest": str(stored.digest),
        "Content-Length": "0",
    }
    if stored.subject is not None:
        headers["OCI-Subject"] = str(stored.subject)
    if request.query_params.getlist("tag"):
        headers["OCI-Tag"] = ", ".join(stored.tags)
    return Response(status_code=201, headers=headers)


async def delete_manifest(request: Request, ctx: OciContext) -> Response:
    """Delete a manifest (by digest, with its tags) or a tag."""
    svc = services(request)
    repository = await svc.repositories.find(instance_id=ctx.instance_id, name=ctx.repository)
    await svc.manifests.delete(repository=repository, reference=ctx.params["reference"])
    return Response(status_code=202, headers={"Content-Length": "0"})
