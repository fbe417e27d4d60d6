"""The README stays true: its configuration table is the settings reference, and its quick start
is what CI runs."""

from __future__ import annotations

from pathlib import Path

from moorage.settings import settings_markdown

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
