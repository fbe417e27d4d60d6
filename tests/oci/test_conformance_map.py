"""docs/oci-conformance.md stays true: every check of the distribution-spec conformance suites it
lists names the tests in tests/oci that cover it, and each named test exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| ([A-Z]\d+) \| (.+) \|$")
REFERENCE = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def _tests_of(module: str) -> set[str]:
    tree = ast.parse((ROOT / "tests" / "oci" / module).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_check_names_tests_that_exist() -> None:
    rows = [
        m.groups() for line in (ROOT / "docs" / "oci-conformance.md").read_text().splitlines() if (m := ROW.match(line))
    ]
    ids = [check for check, _ in rows]
    assert len(ids) == len(set(ids)), "a check id is listed twice"
    assert {check[0] for check in ids} == {"P", "U", "D", "M", "E", "N"}
    assert sum(check.startswith("N") for check in ids) >= 45
    missing = []
    for check, text in rows:
        references = REFERENCE.findall(text)
        if not references:
            assert "n/a:" in text, f"{check} names no test and gives no reason"
        missing += [f"{check}: {module}::{name}" for module, name in references if name not in _tests_of(module)]
    assert not missing, "tests named in docs/oci-conformance.md that do not exist:\n" + "\n".join(missing)
