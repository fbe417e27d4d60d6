"""Analyzer fixtures are built once per test session (rpmbuild, pip and npm take seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.scanner.analyzers import fixtures, rpm_fixtures
from tests.scanner.analyzers.fixtures import AnalyzerCase

CASE_NAMES = [
    "os-release",
    "dpkg",
    "apk",
    "rpm-sqlite",
    "rpm-bdb",
    "rpm-ndb",
    "python",
    "npm",
    "go-binary",
    "java-archive",
    "ruby",
    "composer",
    "cargo-auditable",
]


@pytest.fixture(scope="session")
def analyzer_cases(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], AnalyzerCase]:
    """Builds (once) and returns the fixture case of a name in CASE_NAMES."""
    built: dict[str, AnalyzerCase] = {}

    def get(name: str) -> AnalyzerCase:
        if name not in built:
            work = Path(tmp_path_factory.mktemp(name))
            if name.startswith("rpm-"):
                built.update(rpm_fixtures.rpm_cases(work))
            else:
                makers: dict[str, Callable[[], AnalyzerCase]] = {
                    "os-release": fixtures.os_case,
                    "dpkg": fixtures.dpkg_case,
                    "apk": fixtures.apk_case,
                    "python": lambda: fixtures.pip_case(work),
                    "npm": lambda: fixtures.npm_case(work),
                    "go-binary": lambda: fixtures.go_case(work),
                    "java-archive": fixtures.java_case,
                    "ruby": fixtures.ruby_case,
                    "composer": fixtures.php_case,
                    "cargo-auditable": lambda: fixtures.rust_case(work),
                }
                built[name] = makers[name]()
        return built[name]

    return get
