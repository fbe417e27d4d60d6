"""The matching benchmark still runs (at a small size) and prints its figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_benchmark_runs_small() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "match_bench.py"), "--records", "4000", "--packages", "300"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = dict(line.strip().split("  ", 1) for line in result.stdout.splitlines()[1:] if "  " in line.strip())
    assert figures["advisory records"].strip() == "4,008"
    assert figures["inventory packages"].strip() == "300"
    assert int(figures["findings"].split()[0].replace(",", "")) > 0
