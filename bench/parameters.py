"""Workload sizes of the benchmark: the full run of issue 2, and a quick one for the smoke test."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class WorkloadSizes:
    """How much of each workload to run; every figure's label is derived from these."""

    large_blob_bytes: int = 512 * MIB
    chunk_bytes: int = 16 * MIB
    large_blob_repeats: int = 3
    small_blob_count: int = 2000
    small_blob_bytes: int = 4096
    small_blob_concurrency: int = 16
    manifest_requests: int = 10_000
    manifest_concurrency: int = 32
    tag_count: int = 10_000
    tag_concurrency: int = 16
    page_size: int = 100
    whole_listings: int = 10
    paginated_walks: int = 3
    catalog_repositories: int = 1000
    catalog_concurrency: int = 16
    image_count: int = 100
    image_concurrency: int = 8
    image_layer_bytes: int = 8192
    limits_bytes: int = 512 * MIB

    def as_dict(self) -> dict[str, int]:
        """The sizes as a plain dict, for the JSON results."""
        return asdict(self)


FULL = WorkloadSizes()

QUICK = WorkloadSizes(
    large_blob_bytes=32 * MIB,
    chunk_bytes=4 * MIB,
    large_blob_repeats=1,
    small_blob_count=200,
    manifest_requests=400,
    tag_count=250,
    whole_listings=3,
    paginated_walks=1,
    catalog_repositories=120,
    image_count=16,
    limits_bytes=64 * MIB,
)
