"""Small fake Harbor (v2.0 API) and JFrog Artifactory servers for the synchronisation tests (neither
can run here). They speak just what moorage's catalogs read, with Basic authentication and pages,
and serve the OCI manifests the synchroniser reads for tags the listing did not describe. They run
in a thread of the test process on 127.0.0.1 and are shut down by the test."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest(label: str, layer_sizes: tuple[int, ...] = (1000, 2000)) -> bytes:
    """A small image manifest (the blobs it names are never fetched by a synchronisation)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(f"config-{label}".encode()),
                "size": 100,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(f"layer-{label}-{i}".encode()),
                    "size": size,
                }
                for i, size in enumerate(layer_sizes)
            ],
        }
    ).encode()


def index(children: dict[str, bytes]) -> bytes:
    """An index of platform manifests (``os/arch`` -> manifest bytes)."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest_of(body),
                    "size": len(body),
                    "platform": {"os": platform.split("/")[0], "architecture": platform.split("/")[1]},
                }
                for platform, body in children.items()
            ],
        }
    ).encode()


@dataclass
class FakeRegistry:
    """A fake registry API on loopback; use as a context manager."""

    username: str
    password: str
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """(repository, tag or digest) -> manifest bytes served under ``/v2/``."""
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                expected = "Basic " + base64.b64encode(f"{fake.username}:{fake.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": 'Basic realm="fake"'})
                    return
                parts = urlsplit(self.path)
                answer = fake.answer(
                    unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}, parts.path
                )
                if answer is None:
                    self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
                else:
                    status, body, headers = answer
                    self._send(status, body, headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, query: dict[str, str], raw_path: str) -> tuple[int, bytes, dict[str, str]] | None:
        """The answer to an authenticated GET (None: 404)."""
        if path.startswith("/v2/") and "/manifests/" in path:
            repository, _, reference = path[4:].rpartition("/manifests/")
            body = self.manifests.get((repository, reference))
            if body is None:
                return None
            kind = json.loads(body)["mediaType"]
            return 200, body, {"Content-Type": kind, "Docker-Content-Digest": digest_of(body)}
        return None

    def __enter__(self) -> FakeRegistry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _page(items: list[Any], query: dict[str, str]) -> list[Any]:
    page, size = int(query.get("page", "1")), int(query.get("page_size", "10"))
    return items[(page - 1) * size : page * size]


@dataclass
class FakeHarbor(FakeRegistry):
    """Harbor: projects -> repositories -> artifacts (with tags, digests, sizes, platform children)."""

    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """``project/repository`` -> artifacts as Harbor's API lists them."""

    def answer(self, path: str, query: dict[str, str], raw_path: str) -> tuple[int, bytes, dict[str, str]] | None:
        """See :meth:`FakeRegistry.answer`."""
        if path == "/api/v2.0/users/current":
            return 200, json.dumps({"username": self.username}).encode(), {}
        if path == "/v2/_catalog":
            return 403, b'{"errors":[{"code":"DENIED","message":"catalog disabled"}]}', {}
        projects = sorted({name.split("/", 1)[0] for name in self.artifacts})
        if path == "/api/v2.0/projects":
            return (
                200,
                json.dumps(_page([{"name": p, "project_id": i} for i, p in enumerate(projects)], query)).encode(),
                {},
            )
        segments = raw_path.split("/")
        # /api/v2.0/projects/{p}/repositories[/{double-encoded name}/artifacts]
        if len(segments) == 6 and segments[5] == "repositories":
            project = unquote(segments[4])
            names = sorted(n for n in self.artifacts if n.split("/", 1)[0] == project)
            return 200, json.dumps(_page([{"name": n} for n in names], query)).encode(), {}
        if len(segments) == 8 and segments[5] == "repositories" and segments[7] == "artifacts":
            name = f"{unquote(segments[4])}/{unquote(unquote(segments[6]))}"
            if "%2F" in segments[6] and "%252F" not in segments[6]:
                return 400, b'{"errors":[{"code":"BAD_REQUEST","message":"encode the name twice"}]}', {}
            if name not in self.artifacts:
                return None
            return 200, json.dumps(_page(self.artifacts[name], query)).encode(), {}
        return super().answer(path, query, raw_path)


@dataclass
class FakeArtifactory(FakeRegistry):
    """JFrog Artifactory: Docker repositories, each with its own catalog and tag lists."""

    repositories: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """repository key -> image -> tags."""

    def answer(self, path: str, query: dict[str, str], raw_path: str) -> tuple[int, bytes, dict[str, str]] | None:
        """See :meth:`FakeRegistry.answer`."""
        if path == "/artifactory/api/repositories":
            listed = [{"key": key, "type": "LOCAL", "packageType": "Docker"} for key in sorted(self.repositories)]
            listed.append({"key": "maven-local", "type": "LOCAL", "packageType": "Maven"})
            return 200, json.dumps(listed).encode(), {}
        prefix = "/artifactory/api/docker/"
        if path.startswith(prefix):
            key, _, rest = path[len(prefix) :].partition("/v2/")
            images = self.repositories.get(key)
            if images is None:
                return None
            if rest == "_catalog":
                return 200, json.dumps({"repositories": sorted(images)}).encode(), {}
            if rest.endswith("/tags/list"):
                image = rest[: -len("/tags/list")]
                if image not in images:
                    return None
                return 200, json.dumps({"name": image, "tags": images[image]}).encode(), {}
            return None
        if path == "/v2/_catalog":
            return 404, b'{"errors":[{"code":"UNSUPPORTED"}]}', {}
        return super().answer(path, query, raw_path)


@dataclass
class SlowOciRegistry(FakeRegistry):
    """An anonymous OCI registry holding one repository, whose blobs trickle out slowly (a scan is
    then caught in the middle of a download). ``blob_started`` is set when a blob download begins."""

    repository: str = "slow/app"
    tags: dict[str, Any] = field(default_factory=dict)
    """tag -> ``tests.support.swr_images.Image``."""
    chunk: int = 32 << 10
    pause: float = 0.25
    blob_started: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__post_init__()
        fake = self
        handler = self.server.RequestHandlerClass

        class Slow(handler):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                path = urlsplit(self.path).path
                blobs = {b.digest: b.data for image in fake.tags.values() for b in image.blobs}
                if path.startswith(f"/v2/{fake.repository}/blobs/"):
                    data = blobs.get(path.rsplit("/", 1)[1])
                    if data is None:
                        self._send(404, b"{}")
                        return
                    fake.blob_started.set()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    for start in range(0, len(data), fake.chunk):
                        self.wfile.write(data[start : start + fake.chunk])
                        self.wfile.flush()
                        time.sleep(fake.pause)
                    return
                answer = fake.oci_answer(path)
                if answer is None:
                    self._send(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
                else:
                    self._send(*answer)

        self.server.RequestHandlerClass = Slow

    def oci_answer(self, path: str) -> tuple[int, bytes, dict[str, str]] | None:
        """Everything but blobs."""
        if path in ("/v2/", "/v2"):
            return 200, b"{}", {}
        if path == "/v2/_catalog":
            return 200, json.dumps({"repositories": [self.repository]}).encode(), {}
        if path == f"/v2/{self.repository}/tags/list":
            return 200, json.dumps({"name": self.repository, "tags": sorted(self.tags)}).encode(), {}
        prefix = f"/v2/{self.repository}/manifests/"
        if path.startswith(prefix):
            reference = path[len(prefix) :]
            for tag, image in self.tags.items():
                if reference in (tag, image.digest):
                    return (
                        200,
                        image.manifest,
                        {"Content-Type": image.media_type, "Docker-Content-Digest": image.digest},
                    )
        return None
