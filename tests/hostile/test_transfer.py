"""A hostile source registry against the copy engine: a fake registry on 127.0.0.2 (the only address
the egress policy allows) serves lies, and moorage in this process is the sink. A blob longer than
its descriptor, a manifest or child manifest that does not hash to its digest, a blob redirected to
an internal address, indexes nested without end: each copy fails, and the sink stores nothing of the
bad content (nor any manifest naming it)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

import pytest

from moorage.clients.egress import EgressPolicy
from moorage.clients.errors import BlobDigestError, EgressDenied, RegistryError
from moorage.domain.digests import Digest
from moorage.domain.errors import DigestInvalid, ManifestInvalid
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.metadata.queries import blobs as blob_queries
from moorage.services.replication import CopyOptions, LocalEndpoint, LocalRegistry, copy_artifact, remote_endpoint
from tests.hostile.egress_servers import FakeHttp, reply
from tests.support.inprocess import InProcessMoorage, running, settings_for
from tests.support.swr_images import OCI_INDEX, OCI_MANIFEST, Image, image, sha256

T = TypeVar("T")
POLICY = EgressPolicy.from_lists(allow_networks="127.0.0.2/32")


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite: Path) -> Iterator[InProcessMoorage]:
    directory = tmp_path_factory.mktemp("sink")
    for name in ("moorage.db", "master.key"):
        shutil.copy2(_migrated_sqlite / name, directory / name)
    with running(settings_for(directory)) as moorage:
        yield moorage


def _run(moorage: InProcessMoorage, work: Callable[[], Awaitable[T]]) -> T:
    result: T = moorage.http.portal.call(work)  # type: ignore[attr-defined]
    return result


class Registry:
    """What the fake serves: manifests by reference, blobs by digest (bytes, or a route of its own)."""

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes, str]] = {}
        """reference -> (media type, bytes, the digest header it claims)."""
        self.blobs: dict[str, Callable[[FakeHttp, BaseHTTPRequestHandler], None]] = {}

    def add(self, img: Image, *, tag: str | None = None) -> None:
        for reference in (img.digest, *([tag] if tag else [])):
            self.manifests[reference] = (img.media_type, img.manifest, img.digest)
        for blob in img.blobs:
            data = blob.data
            self.blobs[blob.digest] = lambda fake, h, data=data: reply(  # type: ignore[misc]
                h, 200, data, {"Content-Type": "application/octet-stream"}
            )

    def route(self, fake: FakeHttp, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        if path == "/v2/":
            reply(handler, 200, {})
            return
        _, _, rest = path.partition("/v2/")
        name, kind, reference = rest.rpartition("/manifests/")[0], "manifests", rest.rpartition("/manifests/")[2]
        if "/manifests/" not in rest:
            name, kind, reference = rest.rpartition("/blobs/")[0], "blobs", rest.rpartition("/blobs/")[2]
        del name
        if kind == "manifests" and reference in self.manifests:
            media_type, raw, digest = self.manifests[reference]
            reply(handler, 200, raw, {"Content-Type": media_type, "Docker-Content-Digest": digest})
        elif kind == "blobs" and reference in self.blobs:
            self.blobs[reference](fake, handler)
        else:
            reply(handler, 404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})


def _copy(sink: InProcessMoorage, fake: FakeHttp, reference: str, destination: str) -> Any:
    s = sink.services
    local = LocalEndpoint(LocalRegistry(s.db, s.store, s.uploads, s.blobs, s.manifests), DEFAULT_INSTANCE)

    async def work() -> Any:
        source = remote_endpoint(fake.url, settings=sink.settings, egress=POLICY)
        try:
            return await copy_artifact(
                source, local, "evil/app", reference, destination, CopyOptions(include_referrers=False)
            )
        finally:
            await source.client.aclose()

    return _run(sink, work)


def _stored(sink: InProcessMoorage, digest: str) -> bool:
    recorded = sink.services.db.run_read(lambda conn: blob_queries.size(conn, digest)) is not None
    on_disk = _run(sink, lambda: sink.services.store.stat(Digest.parse(digest))) is not None
    return recorded or on_disk


def _tagged(sink: InProcessMoorage, name: str) -> bool:
    s = sink.services
    local = LocalEndpoint(LocalRegistry(s.db, s.store, s.uploads, s.blobs, s.manifests), DEFAULT_INSTANCE)
    return _run(sink, lambda: local.manifest_digest(name, "1.0")) is not None


def _destination() -> str:
    return f"safe/app{uuid.uuid4().hex[:8]}"


def test_a_blob_longer_than_its_descriptor_is_refused(sink: InProcessMoorage) -> None:
    img = image([{"x": uuid.uuid4().bytes}], label="long")
    registry = Registry()
    registry.add(img, tag="1.0")
    layer = img.blobs[-1]
    # the layer's bytes followed by 64 MiB more, with no length announced
    registry.blobs[layer.digest] = lambda fake, h: fake.stream(h, len(layer.data) + (64 << 20), content_length=None)
    destination = _destination()
    with FakeHttp(registry.route) as fake, pytest.raises((DigestInvalid, RegistryError)):
        _copy(sink, fake, "1.0", destination)
    assert fake.sent < (32 << 20)  # reading stopped early (socket buffers took the rest), not at the end
    assert not _stored(sink, layer.digest) and not _tagged(sink, destination)


def test_a_blob_whose_bytes_do_not_match_is_refused(sink: InProcessMoorage) -> None:
    img = image([{"x": uuid.uuid4().bytes * 1000}], label="swapped")
    registry = Registry()
    registry.add(img, tag="1.0")
    layer = img.blobs[-1]
    wrong = bytes(b ^ 0x55 for b in layer.data)  # same length, other bytes
    registry.blobs[layer.digest] = lambda fake, h: reply(h, 200, wrong, {"Content-Type": "application/octet-stream"})
    destination = _destination()
    with FakeHttp(registry.route) as fake, pytest.raises(DigestInvalid):
        _copy(sink, fake, "1.0", destination)
    assert not _stored(sink, layer.digest) and not _tagged(sink, destination)


def test_a_manifest_that_does_not_hash_to_its_digest_is_refused(sink: InProcessMoorage) -> None:
    honest = image([{"x": b"honest"}], label="honest")
    forged = image([{"x": b"forged"}], label="forged")
    registry = Registry()
    registry.add(honest)
    registry.add(forged)
    # the index names the honest child; its digest serves the forged bytes
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": honest.digest, "size": len(honest.manifest)}],
        }
    ).encode()
    registry.manifests["1.0"] = (OCI_INDEX, index, sha256(index))
    registry.manifests[honest.digest] = (OCI_MANIFEST, forged.manifest, honest.digest)
    destination = _destination()
    with FakeHttp(registry.route) as fake, pytest.raises((BlobDigestError, DigestInvalid)):
        _copy(sink, fake, "1.0", destination)
    assert not any(_stored(sink, b.digest) for b in forged.blobs if b.digest not in {x.digest for x in honest.blobs})
    # a tag whose claimed digest is not that of its bytes
    registry.manifests["2.0"] = (OCI_MANIFEST, forged.manifest, honest.digest)
    with FakeHttp(registry.route) as fake, pytest.raises((BlobDigestError, DigestInvalid)):
        _copy(sink, fake, "2.0", destination)
    assert not _tagged(sink, destination)


def test_a_blob_redirected_to_an_internal_address_is_not_followed(sink: InProcessMoorage) -> None:
    img = image([{"x": uuid.uuid4().bytes}], label="redirect")
    registry = Registry()
    registry.add(img, tag="1.0")
    layer = img.blobs[-1]
    with FakeHttp(lambda fake, h: reply(h, 200, layer.data), host="127.0.0.1") as internal:
        registry.blobs[layer.digest] = lambda fake, h: reply(
            h, 307, b"", {"Location": f"http://127.0.0.1:{internal.port}/secret"}
        )
        destination = _destination()
        with FakeHttp(registry.route) as fake, pytest.raises(EgressDenied):
            _copy(sink, fake, "1.0", destination)
    assert internal.requests == []
    assert not _stored(sink, layer.digest) and not _tagged(sink, destination)


def test_indexes_nested_without_end_are_refused(sink: InProcessMoorage) -> None:
    leaf = image([{"x": b"leaf"}], label="leaf")
    registry = Registry()
    registry.add(leaf)
    media_type, raw = leaf.media_type, leaf.manifest
    for _ in range(8):
        raw = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": media_type, "digest": sha256(raw), "size": len(raw)}],
            }
        ).encode()
        media_type = OCI_INDEX
        registry.manifests[sha256(raw)] = (OCI_INDEX, raw, sha256(raw))
    registry.manifests["1.0"] = (OCI_INDEX, raw, sha256(raw))
    destination = _destination()
    with FakeHttp(registry.route) as fake, pytest.raises(ManifestInvalid):
        _copy(sink, fake, "1.0", destination)
    assert not any(_stored(sink, b.digest) for b in leaf.blobs) and not _tagged(sink, destination)
