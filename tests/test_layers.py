"""The layer contracts (``.importlinter``, checked by import-linter's ``lint-imports``) hold for the
source tree, and they do break when a handler imports a query module: a copy of the package with one
such import added is refused, naming the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
CONTRACTS = 6


def lint_imports(*, cwd: Path, source_root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` from this interpreter's environment on the ``moorage`` under ``source_root``."""
    command = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(command), "--config", str(CONFIG), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(cwd=ROOT, source_root=ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {CONTRACTS} kept, 0 broken." in result.stdout, result.stdout


def test_a_handler_importing_a_query_module_breaks_the_contracts(tmp_path: Path) -> None:
    package = tmp_path / "src" / "moorage"
    shutil.copytree(ROOT / "src" / "moorage", package, ignore=shutil.ignore_patterns("__pycache__"))
    handler = package / "api" / "swr" / "tags.py"
    handler.write_text(handler.read_text() + "\nfrom moorage.metadata.queries import tag_details  # noqa: E402\n")

    result = lint_imports(cwd=tmp_path, source_root=tmp_path / "src")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Handlers reach data through services only BROKEN" in result.stdout, result.stdout
    assert "moorage.api.swr.tags -> moorage.metadata.queries.tag_details" in result.stdout, result.stdout
