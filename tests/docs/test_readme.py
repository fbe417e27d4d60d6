"""The README stays true: its configuration table is the settings reference, its quick start is
what CI runs, and every command of its shell blocks runs against a real server (placeholders
substituted) or is listed in ``PLANS`` as not runnable here, with the reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moorage.settings import settings_markdown
from tests.conftest import ADMIN_PASSWORD, MoorageFactory
from tests.support import ocilayout as ol
from tests.support.servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_table_lists_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert table == settings_markdown(), "regenerate with: moorage config --reference"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick_start.strip().splitlines()]
    assert commands == ["./dev serve", "./dev test"]
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


def test_every_setting_says_what_it_is() -> None:
    rows = [line for line in settings_markdown().splitlines() if line.startswith("| `MOORAGE_")]
    assert rows
    undocumented = [row.split("|")[1].strip() for row in rows if not row.split("|")[3].strip()]

    assert undocumented == [], "add an attribute docstring (and use_attribute_docstrings) for these"


# --- every shell block of the README ------------------------------------------------------------

_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_VENV_BIN = Path(sys.executable).parent
_DEBIAN_TRACKER = "https://security-tracker.debian.org/tracker/data/json"


@dataclass(frozen=True)
class Plan:
    """What the suite does with one README command: run it (its output must match ``expect``), or
    not, for ``reason``."""

    pattern: str
    """A regular expression the command starts with."""
    reason: str = ""
    """Why it cannot run here (empty: it runs)."""
    expect: str = ""
    """A regular expression its output must contain."""
    check: Callable[[str], None] | None = None
    """A further check of its standard output."""


def _gc_json_as_the_readme_shows(stdout: str) -> None:
    """``moorage gc --json`` prints the fields of the README's example, in its order, each explained
    there, and its freed bytes add up as the README says."""
    section = (ROOT / "README.md").read_text().split("### Garbage collection\n", 1)[1].split("\n## ", 1)[0]
    example = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    printed = json.loads(stdout.strip().splitlines()[-1])
    assert list(printed) == list(example)
    assert [key for key in example if f"`{key}`" not in section] == []
    for figures in (example, printed):
        assert figures["freed_bytes"] == figures["bytes"] + figures["upload_bytes"] + figures["orphan_bytes"]
    assert printed["dry_run"] is True and printed["status"] == "Success"


PLANS = (
    Plan(
        r"\./dev serve\b",
        reason="builds .venv-serve from the runtime lock and serves until stopped; every "
        "server fixture of the suite runs `moorage serve` itself",
    ),
    Plan(r"\./dev test\b", reason="runs this very suite; CI runs it (test_ci_runs_the_readme_test_command)"),
    Plan(r"skopeo copy ", expect=r"Writing manifest"),
    Plan(
        r"docker login ",
        reason="needs a docker daemon with the registry among its insecure registries, and asks "
        "for the user and password on a terminal",
    ),
    Plan(r"curl .*/v3/auth/tokens", expect=r"(?i)x-subject-token: \S+"),
    Plan(r"\.venv-serve/bin/moorage admin accesskey create ", expect=r'"secret"'),
    Plan(r"\.venv-serve/bin/moorage sbom ", expect=r'"bomFormat":\s*"CycloneDX"'),
    Plan(r"moorage vulndb build ", expect=r"osv"),
    Plan(r"moorage vulndb update ", expect=r"osv"),
    Plan(r"moorage vulndb info ", expect=r"debian"),
    Plan(r"moorage vulndb export ", expect=r"wrote vulndb\.bundle"),
    Plan(r"moorage vulndb import ", expect=r"osv"),
    Plan(r"moorage gc --dry-run --json", expect=r'"dry_run": true', check=_gc_json_as_the_readme_shows),
    Plan(r"moorage gc +#", expect=r"garbage collection \d+: Success"),
    Plan(r"moorage gc --delete-untagged", expect=r"garbage collection \d+: Success"),
)
# Commands expected to fail, with the reason (strict: the mark fails once the command works).
XFAIL: dict[str, str] = {}


def readme_commands() -> list[str]:
    """Every command of every ``sh`` block, in order (an indented line continues the one before)."""
    commands: list[str] = []
    for block in _BLOCK.findall((ROOT / "README.md").read_text()):
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and commands:
                commands[-1] += "\n" + line
            elif line.strip():
                commands.append(line)
    return commands


def plan_of(command: str) -> Plan:
    """The one plan that handles ``command``."""
    plans = [plan for plan in PLANS if re.match(plan.pattern, command)]
    assert len(plans) == 1, f"{len(plans)} plans for README command {command!r}: add one to PLANS"
    return plans[0]


def test_every_readme_command_has_a_plan() -> None:
    commands = readme_commands()
    assert len(commands) >= 12
    used = {plan_of(command) for command in commands}
    assert used == set(PLANS), f"plans for commands the README no longer has: {set(PLANS) - used}"


def _cases() -> list[Any]:
    cases = []
    for number, command in enumerate(readme_commands()):
        marks = [
            pytest.mark.xfail(strict=True, reason=reason)
            for pattern, reason in XFAIL.items()
            if re.match(pattern, command)
        ]
        cases.append(pytest.param(command, marks=marks, id=f"{number:02d}-{command.split()[0]}"))
    return cases


@dataclass(frozen=True)
class Workspace:
    """The directory README commands run in, and the server they talk to."""

    path: Path
    server: ServerProcess


@pytest.fixture(scope="module")
def workspace(session_moorage_factory: MoorageFactory, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A running moorage (administrator ``admin`` / ``ADMIN_PASSWORD``), an OCI layout ``./layout`` with the
    tag ``tag``, and small advisory feeds of the formats the README names."""
    from tests.scanner.advisories.feedwriters import debian_release, osv_record, write_debian_tracker

    path = tmp_path_factory.mktemp("readme")
    ol.write_layout(
        path / "layout",
        {
            "tag": ol.image(
                [
                    {
                        "usr/lib/python3/site-packages/example-1.0.dist-info/METADATA": (
                            b"Metadata-Version: 2.1\nName: example\nVersion: 1.0\n"
                        )
                    }
                ]
            )
        },
    )
    feeds = path / "feeds"
    feeds.mkdir()
    with zipfile.ZipFile(feeds / "PyPI.zip", "w") as archive:
        record = osv_record("PYSEC-2024-1", package="example", events=[{"introduced": "0"}, {"fixed": "2.0"}])
        archive.writestr("PYSEC-2024-1.json", json.dumps(record))
    write_debian_tracker(
        feeds / "debian.json",
        {"openssl": {"CVE-2024-0001": {"bookworm": debian_release("resolved", fixed_version="3.0.13-1")}}},
    )
    return Workspace(path, session_moorage_factory(database="sqlite"))


def _substituted(command: str, workspace: Workspace) -> str:
    """The command with the README's placeholders replaced by this run's values."""
    for placeholder, value in (
        ("PASSWORD", ADMIN_PASSWORD),
        ("127.0.0.1:5000", workspace.server.address),
        (".venv-serve/bin/moorage", str(_VENV_BIN / "moorage")),
        ("/feeds/PyPI.zip", "./feeds/PyPI.zip"),
        (_DEBIAN_TRACKER, str(workspace.path / "feeds" / "debian.json")),
    ):  # no internet here: same format, local
        command = command.replace(placeholder, value)
    return re.sub(r"^moorage ", f"{_VENV_BIN / 'moorage'} ", command)


@pytest.mark.parametrize("command", _cases())
def test_readme_command(command: str, workspace: Workspace) -> None:
    plan = plan_of(command)
    if plan.reason:
        pytest.skip(f"not runnable here: {plan.reason}")
    # The server's configured advisory sources, as `moorage vulndb update` reads them: the same formats
    # as the public feeds the defaults name, served from local files (no internet here).
    sources = f"osv:{workspace.path / 'feeds' / 'PyPI.zip'},debian:{workspace.path / 'feeds' / 'debian.json'}"
    env = {
        **os.environ,
        **workspace.server.env,
        "MOORAGE_SCANNER__VULNDB_SOURCES": sources,
        "PATH": f"{_VENV_BIN}:{os.environ.get('PATH', '')}",
    }
    completed = subprocess.run(
        ["bash", "-o", "pipefail", "-c", _substituted(command, workspace)],
        cwd=workspace.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{command}\nexit {completed.returncode}:\n{output[-3000:]}"
    assert re.search(plan.expect, output), f"{command}\nexpected {plan.expect!r} in:\n{output[-3000:]}"
    if plan.check is not None:
        plan.check(completed.stdout)
