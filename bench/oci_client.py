"""The OCI distribution requests the small workloads make, over ``HttpConnection``.

Pushes follow the spec's push workflow: a monolithic ``POST ?digest=`` when the server accepts it
(probed once per server), otherwise POST then PUT; manifests are OCI image manifests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass

from bench.blob_transfer import location_target, with_query
from bench.http_client import HttpConnection, HttpReply

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MANIFEST_ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class RegistryProtocolError(Exception):
    """The server answered a workload request with something the spec does not allow there."""


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def expect(reply: HttpReply, status: int, what: str) -> HttpReply:
    """``reply`` if its status is ``status``, else a ``RegistryProtocolError`` naming ``what``."""
    if reply.status != status:
        raise RegistryProtocolError(f"{what}: expected {status}, got {reply.status}: {reply.body[:300]!r}")
    return reply


@dataclass(frozen=True)
class Blob:
    """Bytes to push, with their digest and media type."""

    data: bytes
    digest: str
    media_type: str

    @classmethod
    def of(cls, data: bytes, media_type: str = OCI_LAYER) -> Blob:
        """A blob of ``data``."""
        return cls(data, sha256_digest(data), media_type)

    def descriptor(self) -> dict[str, object]:
        """Its OCI descriptor."""
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Image:
    """A small image: a config, its layers, and the manifest that names them."""

    config: Blob
    layers: tuple[Blob, ...]
    manifest: bytes

    @property
    def manifest_digest(self) -> str:
        """The manifest's digest."""
        return sha256_digest(self.manifest)

    @classmethod
    def generate(cls, seed: int, layer_bytes: int, layer_count: int = 2) -> Image:
        """An image with ``layer_count`` random layers and a config that names them."""
        layers = tuple(Blob.of(os.urandom(layer_bytes)) for _ in range(layer_count))
        config = Blob.of(
            json.dumps(
                {
                    "architecture": "amd64",
                    "os": "linux",
                    "config": {"Labels": {"bench.seed": str(seed)}},
                    "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
                },
                sort_keys=True,
            ).encode(),
            OCI_CONFIG,
        )
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.descriptor(),
                "layers": [layer.descriptor() for layer in layers],
            },
            sort_keys=True,
        ).encode()
        return cls(config, layers, manifest)


async def supports_single_post(connection: HttpConnection, repository: str) -> bool:
    """Whether the server completes a monolithic ``POST ?digest=`` upload (201) or opens a session (202)."""
    probe = Blob.of(b"moorage-bench monolithic POST probe")
    reply = await connection.request(
        "POST",
        with_query(f"/v2/{repository}/blobs/uploads/", "digest", probe.digest),
        headers=[("Content-Type", "application/octet-stream")],
        body=probe.data,
    )
    if reply.status == 201:
        return True
    expect(reply, 202, "monolithic POST probe")
    target = with_query(location_target(reply.header("location")), "digest", probe.digest)
    expect(
        await connection.request(
            "PUT", target, headers=[("Content-Type", "application/octet-stream")], body=probe.data
        ),
        201,
        "PUT after POST probe",
    )
    return False


async def push_blob(connection: HttpConnection, repository: str, blob: Blob, *, single_post: bool) -> None:
    """Upload ``blob`` monolithically, in one request or two."""
    octet = [("Content-Type", "application/octet-stream")]
    uploads = f"/v2/{repository}/blobs/uploads/"
    if single_post:
        reply = await connection.request(
            "POST", with_query(uploads, "digest", blob.digest), headers=octet, body=blob.data
        )
        expect(reply, 201, f"POST blob {blob.digest}")
        return
    session = expect(await connection.request("POST", uploads), 202, "start upload")
    target = with_query(location_target(session.header("location")), "digest", blob.digest)
    expect(await connection.request("PUT", target, headers=octet, body=blob.data), 201, f"PUT blob {blob.digest}")


async def put_manifest(connection: HttpConnection, repository: str, reference: str, manifest: bytes) -> None:
    """PUT an OCI image manifest under ``reference``."""
    reply = await connection.request(
        "PUT",
        f"/v2/{repository}/manifests/{reference}",
        headers=[("Content-Type", OCI_MANIFEST)],
        body=manifest,
    )
    expect(reply, 201, f"PUT manifest {repository}:{reference}")


async def push_image(connection: HttpConnection, repository: str, tag: str, image: Image, *, single_post: bool) -> None:
    """Push ``image`` as a client does: HEAD each blob, upload the missing ones, PUT the manifest by tag."""
    for blob in (image.config, *image.layers):
        head = await connection.request("HEAD", f"/v2/{repository}/blobs/{blob.digest}")
        if head.status == 404:
            await push_blob(connection, repository, blob, single_post=single_post)
        else:
            expect(head, 200, f"HEAD blob {blob.digest}")
    await put_manifest(connection, repository, tag, image.manifest)


def next_page(reply: HttpReply) -> str | None:
    """The path-and-query of the ``Link: <...>; rel="next"`` header, if the answer has one."""
    match = _LINK_NEXT.search(reply.header("link"))
    return location_target(match.group(1)) if match else None


async def list_all(connection: HttpConnection, first_target: str, key: str) -> tuple[list[str], int]:
    """Follow ``Link`` from ``first_target`` to the end: every entry under ``key``, and the page count."""
    entries: list[str] = []
    pages = 0
    target: str | None = first_target
    while target is not None:
        reply = expect(await connection.request("GET", target), 200, f"GET {target}")
        entries.extend(json.loads(reply.body).get(key) or [])
        pages += 1
        target = next_page(reply)
    return entries, pages
