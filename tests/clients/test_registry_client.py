"""The async OCI client against Debian's docker-registry: anonymous, Basic and Bearer auth,
manifests, platform resolution, verified blob downloads, paginated tags and catalog."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from moorage.clients import AuthenticationError, BlobDigestError, Credentials, NotFoundError, RegistryClient
from moorage.clients.egress import EgressPolicy
from moorage.domain.manifests import ImageIndex, ImageManifest
from moorage.domain.mediatypes import DOCKER_MANIFEST_LIST, OCI_INDEX
from moorage.domain.oci_platform import Platform
from tests.clients.registries import PASSWORD, SERVICE, USER, TokenIssuer
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow
ANY = EgressPolicy.unrestricted()


async def test_manifest_get_and_head(anonymous_registry: ServerProcess) -> None:
    async with RegistryClient(anonymous_registry.address, egress=ANY) as client:
        top = await client.get_manifest("scan/multi", "1")
        assert top.media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST)
        assert top.digest == "sha256:" + hashlib.sha256(top.raw).hexdigest()
        assert isinstance(top.parsed(), ImageIndex)
        head = await client.head_manifest("scan/multi", "1")
        assert head is not None and head.digest == top.digest and head.size == len(top.raw)
        assert await client.head_manifest("scan/multi", "nope") is None
        with pytest.raises(NotFoundError):
            await client.get_manifest("scan/none", "1")


async def test_platform_resolution(anonymous_registry: ServerProcess) -> None:
    async with RegistryClient(anonymous_registry.address, egress=ANY) as client:
        (arm,) = await client.resolve_image("scan/multi", "1", Platform("linux", "arm64"))
        assert arm[0].platform == Platform("linux", "arm64") and isinstance(arm[1], ImageManifest)
        both = await client.resolve_image("scan/multi", "1", None)
        assert {str(d.platform) for d, _ in both} == {"linux/amd64", "linux/arm64"}
        (single,) = await client.resolve_image("scan/small", "t0", Platform("linux", "arm64"))
        assert single[1].layers, "a plain manifest is returned whatever the platform"


async def test_blob_download_is_verified(anonymous_registry: ServerProcess, tmp_path: Path) -> None:
    async with RegistryClient(anonymous_registry.address, egress=ANY) as client:
        (_, manifest), *_ = await client.resolve_image("scan/multi", "1", Platform("linux", "amd64"))
        layer = manifest.layers[0]
        target = tmp_path / "layer.bin"
        size = await client.download_blob("scan/multi", layer.digest, target, size=layer.size)
        assert size == layer.size == target.stat().st_size
        assert "sha256:" + hashlib.sha256(target.read_bytes()).hexdigest() == str(layer.digest)
        config = await client.get_blob_bytes("scan/multi", manifest.config.digest)
        assert b"rootfs" in config
        with pytest.raises(NotFoundError):
            await client.download_blob("scan/multi", "sha256:" + "0" * 64, tmp_path / "missing", size=10)
        assert sorted(os.listdir(tmp_path)) == ["layer.bin"], "no partial file is left behind"


async def test_digest_mismatch_is_detected(anonymous_registry: ServerProcess, tmp_path: Path) -> None:
    async def lie(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not what the digest says")

    async with RegistryClient(anonymous_registry.address, transport=httpx.MockTransport(lie), egress=ANY) as client:
        with pytest.raises(BlobDigestError):
            await client.download_blob("scan/multi", "sha256:" + "1" * 64, tmp_path / "x", size=100)
        assert os.listdir(tmp_path) == []


class CountingTransport(httpx.AsyncHTTPTransport):
    """Counts requests per path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


async def test_tags_and_catalog_follow_link_pagination(anonymous_registry: ServerProcess) -> None:
    transport = CountingTransport()
    async with RegistryClient(anonymous_registry.address, transport=transport, egress=ANY) as client:
        tags = await client.list_tags("scan/small", page_size=2)
        assert sorted(tags) == [f"t{i}" for i in range(5)] and len(tags) == 5
        assert await client.catalog(page_size=1) == ["scan/multi", "scan/small"]
        assert transport.paths.count("/v2/_catalog") >= 2, "one repository per page"


async def test_tag_pagination_follows_relative_links() -> None:
    """distribution 2.8 does not paginate tags (3.0 does), so this one answer is scripted."""
    tags = [f"v{i}" for i in range(7)]

    async def paged(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params.get("n", "100"))
        last = request.url.params.get("last")
        start = tags.index(last) + 1 if last else 0
        page = tags[start : start + size]
        headers = {}
        if start + size < len(tags):
            headers["Link"] = f'</v2/r/tags/list?n={size}&last={page[-1]}>; rel="next"'
        return httpx.Response(200, json={"name": "r", "tags": page}, headers=headers)

    async with RegistryClient("127.0.0.1:1", transport=httpx.MockTransport(paged), egress=ANY) as client:
        assert await client.list_tags("r", page_size=3) == tags


async def test_basic_auth(basic_registry: ServerProcess) -> None:
    async with RegistryClient(basic_registry.address, credentials=Credentials(USER, PASSWORD), egress=ANY) as client:
        ((_, manifest),) = await client.resolve_image("private/img", "1", Platform("linux", "amd64"))
        assert manifest.layers
        assert await client.list_tags("private/img") == ["1"]
    async with RegistryClient(basic_registry.address, egress=ANY) as client:
        with pytest.raises(AuthenticationError):
            await client.get_manifest("private/img", "1")
    async with RegistryClient(basic_registry.address, credentials=Credentials(USER, "wrong"), egress=ANY) as client:
        with pytest.raises(AuthenticationError):
            await client.get_manifest("private/img", "1")


async def test_bearer_token_flow_caches_tokens_per_scope(
    bearer_registry: tuple[ServerProcess, TokenIssuer], tmp_path: Path
) -> None:
    registry, issuer = bearer_registry
    async with RegistryClient(registry.address, credentials=Credentials(USER, PASSWORD), egress=ANY) as client:
        ((_, manifest),) = await client.resolve_image("secure/img", "1", Platform("linux", "amd64"))
        await client.download_blob(
            "secure/img", manifest.layers[0].digest, tmp_path / "l", size=manifest.layers[0].size
        )
        await client.list_tags("secure/img")
        pulls = [r for r in issuer.requests if r["scope"] == "repository:secure/img:pull"]
        assert len(pulls) == 1, f"one token for the repository scope, reused: {issuer.requests}"
        assert pulls[0]["service"] == SERVICE
        assert await client.catalog() == ["secure/img"]
        assert any(r["scope"] == "registry:catalog:*" for r in issuer.requests)
    async with RegistryClient(registry.address, credentials=Credentials(USER, "wrong"), egress=ANY) as client:
        with pytest.raises(AuthenticationError):
            await client.get_manifest("secure/img", "1")
