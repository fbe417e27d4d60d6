"""Smoke test of bench/registry_bench.py: a --quick run against the reference registry only.

It keeps the benchmark from rotting: every figure must come out (in the table and the JSON) and
the --compare path must read back what --json wrote. The figures' values are not judged here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench.figures import FIGURE_KEYS, FIGURES, LIMIT_LABELS
from bench.parameters import QUICK

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY_ROOT / "bench" / "registry_bench.py"


def _bench(*arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPOSITORY_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPOSITORY_ROOT / "src"), str(REPOSITORY_ROOT)]),
        },
    )


@pytest.mark.slow
def test_quick_run_against_the_reference_prints_every_figure(tmp_path: Path) -> None:
    results_path = tmp_path / "quick.json"
    run = _bench(
        "--quick",
        "--only",
        "reference",
        "--json",
        str(results_path),
        "--work-dir",
        str(tmp_path),
        timeout=120,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"

    results = json.loads(results_path.read_text())
    reference = results["targets"]["reference"]
    assert reference["errors"] == {}
    assert set(reference["figures"]) == set(FIGURE_KEYS)
    assert all(value > 0 for value in reference["figures"].values()), reference["figures"]
    assert all(results["limits"][key] > 0 for key in LIMIT_LABELS)
    assert reference["notes"]["tags_list_entries"] == QUICK.tag_count
    assert reference["notes"]["catalog_entries"] == QUICK.catalog_repositories

    table_rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if line.startswith("| ")}
    for figure in FIGURES:
        if not figure.describe(QUICK).startswith(" "):  # latency rows repeat their label
            assert figure.describe(QUICK) in table_rows, f"missing row {figure.describe(QUICK)!r}"
    assert sum(1 for line in run.stdout.splitlines() if "p99 latency" in line) == 2
    for label in LIMIT_LABELS.values():
        assert label in table_rows
    assert not list(tmp_path.glob("moorage-bench-*")), "the work directory was not removed"

    compared = _bench("--results", str(results_path), "--compare", str(results_path), "--only", "reference", timeout=60)
    assert compared.returncode == 0, compared.stderr
    comparison = compared.stdout.split("Compared with", 1)[1]
    change_cells = [
        line.rsplit("|", 2)[1].strip() for line in comparison.splitlines() if line.startswith("| reference")
    ]
    assert change_cells == ["1.00"] * len(FIGURES)
