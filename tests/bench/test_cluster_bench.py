"""The scale-out benchmark's command line, storage parameter and table (no servers started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cluster_bench
from tests.support.cluster import STORAGE_BACKENDS


def test_defaults_compare_one_node_with_two_behind_nginx_with_the_ceilings() -> None:
    arguments = cluster_bench.parse_arguments([])
    assert arguments.targets == ["null", "null-nginx", "one-node", "two-nodes"]
    assert arguments.storage == ["filesystem"]


def test_every_storage_backend_the_tests_know_is_a_benchmark_parameter(tmp_path: Path) -> None:
    assert cluster_bench.parse_arguments(["--storage", ",".join(STORAGE_BACKENDS)]).storage == list(STORAGE_BACKENDS)
    with cluster_bench.storage("filesystem", tmp_path) as env:
        assert env["MOORAGE_STORAGE__DRIVER"] == "filesystem" and Path(env["MOORAGE_STORAGE__ROOT"]).is_dir()
    with pytest.raises(SystemExit):
        cluster_bench.parse_arguments(["--storage", "tape"])


def test_the_table_has_a_column_per_target_and_the_limits() -> None:
    sizes = {"large_blob_bytes": 512 << 20, "chunk_bytes": 16 << 20, "image_count": 100, "image_concurrency": 8}
    results = {
        "sizes": sizes,
        "limits": {
            "sha256_mbps": 1400.0,
            "disk_fsync_write_mbps": 200.0,
            "loopback_tcp_mbps": 3000.0,
            "curl_push_mbps": 500.0,
            "curl_pull_mbps": 900.0,
        },
        "targets": {
            "null": {"figures": {"blob_pull": 2000.0}, "load_average_at_start": 1.0},
            "two-nodes/filesystem": {
                "figures": {"image_push": 33.25},
                "load_average_at_start": 2.0,
                "errors": {"large": "TransferError: cut"},
            },
        },
    }
    table = cluster_bench.render(results)
    assert "| figure | unit | null | two-nodes/filesystem |" in table
    assert "| 512 MiB blob pull | MB/s | 2,000 | — |" in table
    assert "| 100 small images pushed, 8 clients | images/s | — | 33.2 |" in table
    assert "| curl pull through loopback from the null server | 900 |" in table
    assert "two-nodes/filesystem large: TransferError: cut" in table
