"""The inner loop CONTRIBUTING.md promises: ``./dev test <selection>`` runs pytest on the selection and
nothing else (no Debian packages, no ruff, no mypy), in the test virtual environment ``./dev`` built."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.support.tools import unavailable

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)


def _venv_is_current() -> bool:
    """Whether this interpreter's venv carries ./dev's stamp for the current test lock (else ./dev would
    rebuild the very environment this test runs in)."""
    lock = ROOT / "requirements" / "test.txt"
    per_file = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(ROOT)}\n"
        for p in (lock, ROOT / "pyproject.toml")
    )
    stamp = f".moorage-test.txt-{hashlib.sha256(per_file.encode()).hexdigest()[:16]}"
    return (VENV / stamp).exists()


def test_a_selection_runs_only_pytest() -> None:
    if not _venv_is_current():
        unavailable(f"{VENV} is not a test environment ./dev built for this checkout's lock files")
    env = {**os.environ, "MOORAGE_VENV": str(VENV)}
    env.pop("MOORAGE_TEST_WORKERS", None)
    done = subprocess.run(
        [str(ROOT / "dev"), "test", "tests/support/test_tools.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert " passed" in output and "dev: pytest tests/support/test_tools.py" in output, output
    for step in ("dev: ruff", "dev: mypy", "Debian packages", "preparing virtual environment"):
        assert step not in output, output


def test_no_command_prints_the_commands() -> None:
    done = subprocess.run([str(ROOT / "dev")], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "./dev serve" in done.stdout and "./dev test tests/domain -k digest" in done.stdout, done.stdout
