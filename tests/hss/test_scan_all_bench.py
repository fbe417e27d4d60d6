"""The "scan everything" benchmark runs (shrunk) and keeps its promise: one read per distinct layer."""

from __future__ import annotations

import pytest

from bench import scan_all_bench


def test_scan_all_bench_reads_each_layer_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert scan_all_bench.main(["--images", "4", "--caches", "database,directory"]) == 0
    printed = capsys.readouterr().out
    assert "= 7 distinct layers" in printed and "database (cold)" in printed and ": yes" in printed
