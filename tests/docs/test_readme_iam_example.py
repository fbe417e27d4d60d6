"""The README's first IAM token example, exactly as written (curl with ``-d`` and no
``Content-Type: application/json``, so curl sends a form content type), against a running server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ADMIN_PASSWORD, MoorageFactory

ROOT = Path(__file__).resolve().parents[2]


def readme_curl_command() -> str:
    """The quick start's ``curl ... /v3/auth/tokens`` command, with its continuation line."""
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("##", 1)[0]
    lines = quick_start.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("curl ") and "/v3/auth/tokens" in line)
    command = [lines[start]]
    # The -d argument is a single-quoted JSON document that goes on over the next line: take lines
    # until the quotes are balanced, and not one more (the next line is another command).
    while "".join(command).count("'") % 2 == 1:
        start += 1
        command.append(lines[start])
    return "\n".join(command)


@pytest.mark.requires_tool("curl")
def test_the_readme_iam_token_example_works_as_written(session_moorage_factory: MoorageFactory) -> None:
    server = session_moorage_factory(database="sqlite")
    command = readme_curl_command()
    assert "-d '" in command and "application/json" not in command
    assert command.count("\n") == 1 and command.rstrip().endswith("x-subject-token"), command
    runnable = command.replace("http://127.0.0.1:5000", server.base_url).replace("PASSWORD", ADMIN_PASSWORD)
    result = subprocess.run(["bash", "-o", "pipefail", "-c", runnable], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    name, _, token = result.stdout.strip().partition(":")
    assert name.lower() == "x-subject-token" and len(token.strip()) > 100, result.stdout
