"""OCI clients of the lifecycle tests: images as a client builds them, and a client that pushes the
way container tools do (HEAD each blob, upload or mount the missing ones, PUT the manifest) and
tells server errors from the refusals garbage collection may cause."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Protocol

import httpx

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER
from tests.support.servers import ServerProcess
from tests.support.upload_urls import closing_url

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class Outcome(Protocol):
    """Where a client reports what it saw."""

    server_errors: list[str]
    refused: list[str]

    def count(self, what: str) -> None: ...


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(document: object) -> bytes:
    """JSON with sorted keys and no spaces (one document, one digest)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Pushed:
    """An image as a client pushed it."""

    manifest: bytes
    blobs: dict[str, bytes]

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def build_image(layers: list[bytes]) -> Pushed:
    """An OCI image manifest over ``layers`` with a config naming them."""
    config = canonical(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [digest_of(layer) for layer in layers]},
        }
    )
    manifest = canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(layer), "size": len(layer)}
                for layer in layers
            ],
        }
    )
    return Pushed(manifest, {digest_of(config): config, **{digest_of(layer): layer for layer in layers}})


class Client:
    """One worker's connection to the registry with a token for every repository of the test."""

    def __init__(self, server: ServerProcess, repositories: list[str], outcome: Outcome) -> None:
        scopes: list[tuple[str, str | int | float | bool | None]] = [
            ("scope", f"repository:{r}:pull,push,delete") for r in repositories
        ]
        token = httpx.get(
            f"{server.base_url}/service/token", params=scopes, auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=60
        ).json()["token"]
        self.http = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self.outcome = outcome

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 500:
            self.outcome.server_errors.append(f"{what}: {response.status_code} {response.text[:300]}")
        return response

    def upload(self, repository: str, digest: str, data: bytes) -> None:
        response = self._check(
            self.http.post(f"/v2/{repository}/blobs/uploads/", params={"digest": digest}, content=data), "upload"
        )
        assert response.status_code == 201, response.text

    def mount(self, repository: str, source: str, digest: str, data: bytes) -> None:
        response = self._check(
            self.http.post(f"/v2/{repository}/blobs/uploads/", params={"mount": digest, "from": source}), "mount"
        )
        if response.status_code == 201:
            self.outcome.count("mounted")
            return
        assert response.status_code == 202, response.text  # the source lost it: upload, as clients do
        done = self._check(
            self.http.put(closing_url(response.headers["location"], digest), content=data), "mount fallback"
        )
        assert done.status_code == 201, done.text

    def push(self, repository: str, tag: str, image: Pushed, *, mount_from: str | None = None) -> bool:
        """HEAD each blob, upload (or mount) the missing ones, PUT the manifest; once more if the
        collector took a blob between the HEAD and the PUT. Whether the tag now names ``image``."""
        for _attempt in range(3):
            for digest, data in image.blobs.items():
                head = self._check(self.http.head(f"/v2/{repository}/blobs/{digest}"), "head")
                if head.status_code == 200:
                    continue
                if mount_from is not None:
                    self.mount(repository, mount_from, digest, data)
                else:
                    self.upload(repository, digest, data)
            put = self._check(
                self.http.put(
                    f"/v2/{repository}/manifests/{tag}", content=image.manifest, headers={"Content-Type": OCI_MANIFEST}
                ),
                "manifest put",
            )
            if put.status_code == 201:
                return True
            assert put.status_code == 400 and "MANIFEST_BLOB_UNKNOWN" in put.text, put.text
            self.outcome.refused.append(f"{repository}:{tag}")
        return False

    def delete(self, repository: str, reference: str) -> None:
        response = self._check(self.http.delete(f"/v2/{repository}/manifests/{reference}"), "delete")
        assert response.status_code in (202, 404), response.text
