"""The benchmark's workloads (issue 2), each run against one registry and returning its figures.

Every workload sets up what it needs first, untimed, then times only the operation it names.
Figures are keyed as in ``bench.figures.FIGURES``; a workload that fails records its error and
the run goes on with the next one, so a half-built server still gets the figures it can give.
"""

from __future__ import annotations

import hashlib
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvloop

from bench import blob_transfer
from bench.blob_transfer import BlobFile, SocketBlobClient, TransferError
from bench.http_client import HttpClientError, HttpConnection, TimedRun, run_concurrently
from bench.oci_client import (
    MANIFEST_ACCEPT,
    Blob,
    Image,
    RegistryProtocolError,
    expect,
    list_all,
    push_blob,
    push_image,
    put_manifest,
    supports_single_post,
)
from bench.parameters import WorkloadSizes
from bench.registry_auth import AuthError, RegistryEndpoint

T = TypeVar("T")
Progress = Callable[[str], None]
WORKLOAD_ERRORS = (
    AuthError,
    RegistryProtocolError,
    HttpClientError,
    TransferError,
    OSError,
    ValueError,
    KeyError,
)


@dataclass
class TargetFigures:
    """What one registry scored: figure values, per-workload errors and notes (protocol used, counts)."""

    figures: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class LargeBlobs:
    """The local files the large-blob workload pushes: a monolithic and a chunked one per repeat."""

    monolithic: tuple[BlobFile, ...]
    chunked: tuple[BlobFile, ...]


def make_large_blobs(directory: Path, sizes: WorkloadSizes) -> LargeBlobs:
    """Write distinct random-looking files (one 4 MiB random block, each copy stamped) and hash them.

    Distinct content per push keeps a server from skipping the write because the blob exists.
    """
    block = bytearray(os.urandom(4 << 20))
    files: list[BlobFile] = []
    for index in range(2 * sizes.large_blob_repeats):
        path = directory / f"large-{index}.bin"
        digest = hashlib.sha256()
        with path.open("wb") as output:
            for offset in range(0, sizes.large_blob_bytes, len(block)):
                block[:16] = f"{index:08d}{offset:08x}".encode()[:16].ljust(16, b"-")
                piece = memoryview(block)[: min(len(block), sizes.large_blob_bytes - offset)]
                output.write(piece)
                digest.update(piece)
        files.append(BlobFile(path, "sha256:" + digest.hexdigest(), sizes.large_blob_bytes))
    return LargeBlobs(tuple(files[0::2]), tuple(files[1::2]))


def _mbps(size: int, seconds: Sequence[float]) -> list[float]:
    return [size / elapsed / 1e6 for elapsed in seconds]


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def run_large_blobs(
    endpoint: RegistryEndpoint,
    blobs: LargeBlobs,
    sizes: WorkloadSizes,
    result: TargetFigures,
    *,
    single_post: bool,
    use_curl: bool,
) -> None:
    """Push each blob monolithically and chunked, then pull the monolithic ones; median MB/s of each."""
    repository = "bench/large-blobs"
    mono: list[float] = []
    chunked: list[float] = []
    pulled: list[float] = []
    with SocketBlobClient(endpoint) as client:
        client.authenticate(repository)
        for blob in blobs.monolithic:
            if use_curl:
                mono.append(
                    blob_transfer.curl_push_monolithic(client, endpoint, repository, blob, single_post=single_post)
                )
            else:
                mono.append(blob_transfer.push_monolithic(client, repository, blob, single_post=single_post))
        for blob in blobs.chunked:
            chunked.append(blob_transfer.push_chunked(client, repository, blob, chunk_size=sizes.chunk_bytes))
        for blob in blobs.monolithic:
            if use_curl:
                pulled.append(blob_transfer.curl_pull(endpoint, repository, blob))
            else:
                pulled.append(blob_transfer.pull(client, repository, blob))
    for key, seconds in (
        ("blob_push_monolithic", mono),
        ("blob_push_chunked", chunked),
        ("blob_pull", pulled),
    ):
        result.samples[key] = _mbps(sizes.large_blob_bytes, seconds)
        result.figures[key] = statistics.median(result.samples[key])


def _record_cpu(result: TargetFigures, key: str, run: TimedRun, operations: int) -> None:
    """The server's CPU milliseconds per operation of a timed run (all its processes), when known."""
    if run.server_cpu_seconds is not None and operations:
        result.figures[f"{key}_cpu_ms"] = run.server_cpu_seconds * 1000 / operations


def _jobs(
    count: int, job: Callable[[HttpConnection, int], Awaitable[None]]
) -> list[Callable[[HttpConnection], Awaitable[object]]]:
    def bind(index: int) -> Callable[[HttpConnection], Awaitable[None]]:
        return lambda connection: job(connection, index)

    return [bind(index) for index in range(count)]


async def run_small_blobs(
    endpoint: RegistryEndpoint, sizes: WorkloadSizes, result: TargetFigures, *, single_post: bool
) -> None:
    """Push ``small_blob_count`` distinct small blobs with ``small_blob_concurrency`` clients: blobs/s."""
    blobs = [Blob.of(os.urandom(sizes.small_blob_bytes)) for _ in range(sizes.small_blob_count)]

    async def push(connection: HttpConnection, index: int) -> None:
        await push_blob(connection, "bench/small-blobs", blobs[index], single_post=single_post)

    run = await run_concurrently(endpoint, _jobs(len(blobs), push), sizes.small_blob_concurrency)
    result.figures["small_blob_push"] = len(blobs) / run.seconds
    _record_cpu(result, "small_blob_push", run, len(blobs))


async def run_manifest_reads(
    endpoint: RegistryEndpoint, sizes: WorkloadSizes, result: TargetFigures, *, single_post: bool
) -> None:
    """GET a manifest by tag, then HEAD it by digest, ``manifest_requests`` times each at concurrency 32."""
    repository = "bench/manifests"
    image = Image.generate(seed=0, layer_bytes=sizes.image_layer_bytes)
    await _with_connection(
        endpoint, lambda setup: push_image(setup, repository, "latest", image, single_post=single_post)
    )
    digest = image.manifest_digest

    async def get_by_tag(connection: HttpConnection, index: int) -> None:
        reply = await connection.request(
            "GET", f"/v2/{repository}/manifests/latest", headers=[("Accept", MANIFEST_ACCEPT)]
        )
        if reply.status != 200 or len(reply.body) != len(image.manifest):
            raise RegistryProtocolError(f"manifest GET by tag: {reply.status}, {len(reply.body)} bytes")

    async def head_by_digest(connection: HttpConnection, index: int) -> None:
        reply = await connection.request(
            "HEAD", f"/v2/{repository}/manifests/{digest}", headers=[("Accept", MANIFEST_ACCEPT)]
        )
        if reply.status != 200:
            raise RegistryProtocolError(f"manifest HEAD by digest: {reply.status}")

    for name, job in (("manifest_get_tag", get_by_tag), ("manifest_head_digest", head_by_digest)):
        run = await run_concurrently(endpoint, _jobs(sizes.manifest_requests, job), sizes.manifest_concurrency)
        result.figures[f"{name}_rps"] = sizes.manifest_requests / run.seconds
        result.figures[f"{name}_p50_ms"] = percentile(run.latencies, 0.50) * 1000
        result.figures[f"{name}_p99_ms"] = percentile(run.latencies, 0.99) * 1000
        _record_cpu(result, f"{name}_rps", run, sizes.manifest_requests)


async def run_tag_listing(
    endpoint: RegistryEndpoint, sizes: WorkloadSizes, result: TargetFigures, *, single_post: bool
) -> None:
    """Tag one manifest ``tag_count`` times (timed: tags/s), then list the tags whole and paginated."""
    repository = "bench/tags"
    image = Image.generate(seed=1, layer_bytes=sizes.image_layer_bytes)
    await _with_connection(
        endpoint, lambda setup: push_image(setup, repository, "t00000", image, single_post=single_post)
    )

    async def tag(connection: HttpConnection, index: int) -> None:
        await put_manifest(connection, repository, f"t{index + 1:05d}", image.manifest)

    run = await run_concurrently(endpoint, _jobs(sizes.tag_count - 1, tag), sizes.tag_concurrency)
    result.figures["tag_put"] = (sizes.tag_count - 1) / run.seconds
    _record_cpu(result, "tag_put", run, sizes.tag_count - 1)
    await _time_listings(endpoint, f"/v2/{repository}/tags/list", "tags", sizes.tag_count, sizes, result, "tags_list")


async def run_catalog(
    endpoint: RegistryEndpoint, sizes: WorkloadSizes, result: TargetFigures, *, single_post: bool
) -> None:
    """Fill the catalog to ``catalog_repositories`` repositories, then list it whole and paginated."""
    image = Image.generate(seed=2, layer_bytes=sizes.image_layer_bytes)
    existing, _ = await _with_connection(
        endpoint, lambda setup: list_all(setup, f"/v2/_catalog?n={sizes.page_size}", "repositories")
    )
    missing = max(0, sizes.catalog_repositories - len(existing))

    async def create(connection: HttpConnection, index: int) -> None:
        await push_image(connection, f"bench/catalog-{index:05d}", "latest", image, single_post=single_post)

    await run_concurrently(endpoint, _jobs(missing, create), sizes.catalog_concurrency)
    total = len(existing) + missing
    await _time_listings(endpoint, f"/v2/_catalog?n={total}", "repositories", total, sizes, result, "catalog")


async def _with_connection(endpoint: RegistryEndpoint, action: Callable[[HttpConnection], Awaitable[T]]) -> T:
    """Run ``action`` on a new connection and close it after."""
    connection = HttpConnection(endpoint)
    try:
        return await action(connection)
    finally:
        connection.close()


async def _time_listings(
    endpoint: RegistryEndpoint,
    whole_target: str,
    key: str,
    expected: int,
    sizes: WorkloadSizes,
    result: TargetFigures,
    name: str,
) -> None:
    """Time ``whole_listings`` whole listings and ``paginated_walks`` walks at ``n=page_size``, both in
    entries/s (so a server that ignores ``n`` is neither helped nor hurt by it); both follow ``Link``
    and must return exactly ``expected`` distinct entries. One untimed listing of each kind warms up."""
    connection = HttpConnection(endpoint)
    try:
        await _time_listings_on(connection, whole_target, key, expected, sizes, result, name)
    finally:
        connection.close()


async def _time_listings_on(
    connection: HttpConnection,
    whole_target: str,
    key: str,
    expected: int,
    sizes: WorkloadSizes,
    result: TargetFigures,
    name: str,
) -> None:
    base_path = whole_target.split("?")[0]
    paginated_target = f"{base_path}?n={sizes.page_size}"
    for target in (whole_target, paginated_target):
        entries, _ = await list_all(connection, target, key)
        _check_listing(entries, expected, target)
    whole_pages = 0
    started = time.perf_counter()
    for _ in range(sizes.whole_listings):
        entries, whole_pages = await list_all(connection, whole_target, key)
        _check_listing(entries, expected, whole_target)
    result.figures[f"{name}_whole"] = sizes.whole_listings * expected / (time.perf_counter() - started)
    pages = 0
    started = time.perf_counter()
    for _ in range(sizes.paginated_walks):
        entries, walk_pages = await list_all(connection, paginated_target, key)
        _check_listing(entries, expected, paginated_target)
        pages += walk_pages
    result.figures[f"{name}_paginated"] = sizes.paginated_walks * expected / (time.perf_counter() - started)
    result.notes[f"{name}_entries"] = expected
    result.notes[f"{name}_pages_per_whole_listing"] = whole_pages
    result.notes[f"{name}_pages_per_walk"] = pages // sizes.paginated_walks


def _check_listing(entries: list[str], expected: int, target: str) -> None:
    if len(entries) != expected or len(set(entries)) != expected:
        raise RegistryProtocolError(
            f"{target}: {len(entries)} entries ({len(set(entries))} distinct), expected {expected}"
        )


async def run_image_pushes(
    endpoint: RegistryEndpoint, sizes: WorkloadSizes, result: TargetFigures, *, single_post: bool
) -> None:
    """Push ``image_count`` distinct small images (config + 2 layers + manifest + tag) at concurrency 8."""
    images = [
        Image.generate(seed=100 + index, layer_bytes=sizes.image_layer_bytes) for index in range(sizes.image_count)
    ]

    async def push(connection: HttpConnection, index: int) -> None:
        await push_image(connection, f"bench/images-{index % 10}", f"v{index}", images[index], single_post=single_post)

    run = await run_concurrently(endpoint, _jobs(len(images), push), sizes.image_concurrency)
    result.figures["image_push"] = len(images) / run.seconds
    _record_cpu(result, "image_push", run, len(images))


SmallWorkload = Callable[..., Coroutine[Any, Any, None]]
SMALL_WORKLOADS: tuple[tuple[str, SmallWorkload], ...] = (
    ("small", run_small_blobs),
    ("manifests", run_manifest_reads),
    ("tags", run_tag_listing),
    ("catalog", run_catalog),
    ("images", run_image_pushes),
)
WORKLOAD_NAMES = ("large", *(name for name, _ in SMALL_WORKLOADS))


async def _probe(endpoint: RegistryEndpoint) -> bool:
    connection = HttpConnection(endpoint)
    try:
        expect(await connection.request("GET", "/v2/"), 200, "GET /v2/")
        return await supports_single_post(connection, "bench/probe")
    finally:
        connection.close()


def run_all(
    endpoint: RegistryEndpoint,
    blobs: LargeBlobs,
    sizes: WorkloadSizes,
    progress: Progress,
    *,
    use_curl: bool,
    selected: Sequence[str] = WORKLOAD_NAMES,
    two_step: bool = False,
) -> TargetFigures:
    """The ``selected`` workloads against ``endpoint``, one after another; errors are recorded per
    workload."""
    result = TargetFigures()
    try:
        single_post = uvloop.run(_probe(endpoint)) and not two_step
    except WORKLOAD_ERRORS as error:
        result.errors["probe"] = f"{type(error).__name__}: {error}"
        return result
    result.notes["monolithic_single_post"] = single_post
    progress(f"monolithic uploads use {'POST ?digest=' if single_post else 'POST then PUT'}")
    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "large",
            lambda: run_large_blobs(endpoint, blobs, sizes, result, single_post=single_post, use_curl=use_curl),
        )
    ]
    for name, workload in SMALL_WORKLOADS:
        steps.append((name, _async_step(workload, endpoint, sizes, result, single_post)))
    for name, step in steps:
        if name not in selected:
            continue
        started = time.perf_counter()
        try:
            step()
        except WORKLOAD_ERRORS as error:
            result.errors[name] = f"{type(error).__name__}: {error}"
            progress(f"{name}: FAILED: {result.errors[name]}")
            continue
        progress(f"{name}: done in {time.perf_counter() - started:.1f}s")
    return result


def _async_step(
    workload: SmallWorkload,
    endpoint: RegistryEndpoint,
    sizes: WorkloadSizes,
    result: TargetFigures,
    single_post: bool,
) -> Callable[[], None]:
    def step() -> None:
        uvloop.run(workload(endpoint, sizes, result, single_post=single_post))

    return step
