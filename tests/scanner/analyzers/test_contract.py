"""The contract every analyzer must pass, run on each analyzer's own fixture (see fixtures.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from packageurl import PackageURL

from moorage.scanner.analyzers import ANALYZER_CLASSES, default_analyzers
from moorage.scanner.analyzers.interface import Analyzer
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.inventory import Ecosystem
from tests.scanner.analyzers.conftest import CASE_NAMES
from tests.scanner.analyzers.fixtures import AnalyzerCase
from tests.scanner.helpers import analyze_layers
from tests.scanner.imagebuild import Layer, LayerBuilder

ECOSYSTEM_OF = {
    "dpkg": Ecosystem.DEB,
    "apk": Ecosystem.APK,
    "rpm": Ecosystem.RPM,
    "python": Ecosystem.PYPI,
    "npm": Ecosystem.NPM,
    "go-binary": Ecosystem.GOLANG,
    "java-archive": Ecosystem.MAVEN,
    "ruby": Ecosystem.GEM,
    "composer": Ecosystem.COMPOSER,
    "cargo-auditable": Ecosystem.CARGO,
}


@pytest.fixture(params=CASE_NAMES)
def case(request: pytest.FixtureRequest, analyzer_cases: Callable[[str], AnalyzerCase]) -> AnalyzerCase:
    return analyzer_cases(request.param)


def _analyzer(name: str) -> Analyzer:
    return next(a for a in default_analyzers() if a.name == name)


def test_every_analyzer_has_a_fixture() -> None:
    covered = {name.split("-")[0] if name.startswith("rpm-") else name for name in CASE_NAMES}
    assert {cls.name for cls in ANALYZER_CLASSES} <= covered


def test_finds_exactly_the_expected_packages(tmp_path: Path, case: AnalyzerCase) -> None:
    result = analyze_layers(tmp_path, list(case.layers))
    if case.analyzer == "os-release":
        distro = result.inventory.distro
        assert distro is not None and (distro.id, distro.version_id) == case.extra["distro"]
        return
    found = {(p.name, p.version) for p in result.inventory.packages if p.ecosystem is ECOSYSTEM_OF[case.analyzer]}
    assert found == case.expected


def test_packages_carry_purl_layer_and_path(tmp_path: Path, case: AnalyzerCase) -> None:
    layers = [Layer.of(b) for b in case.layers]
    result = analyze_layers(tmp_path, list(layers))
    digests = {layer.digest for layer in layers}
    for package in result.inventory.packages:
        assert package.layer_digest in digests
        assert package.path in result.view.files, f"{package.path} is not a file of the image"
        if not package.purl:  # the one package with no valid purl: a Java archive without a group id
            assert (package.ecosystem, package.namespace) == (Ecosystem.MAVEN, "")
            continue
        parsed = PackageURL.from_string(package.purl)
        assert parsed.type == package.ecosystem.value
        assert parsed.version == package.version.split(":", 1)[-1] or package.ecosystem is Ecosystem.RPM
        assert package.layer_digest in digests
        assert package.path in result.view.files, f"{package.path} is not a file of the image"
        json.dumps(package.metadata)


def test_results_are_json_values(tmp_path: Path, case: AnalyzerCase) -> None:
    result = analyze_layers(tmp_path, list(case.layers))
    for scan in result.view.layers:
        for name, by_path in scan.results.items():
            assert json.loads(json.dumps(by_path)) == by_path, name


def test_deleting_the_record_files_removes_the_packages(tmp_path: Path, case: AnalyzerCase) -> None:
    first = analyze_layers(tmp_path, list(case.layers))
    paths = {path for path, _, _ in first.view.results(case.analyzer)}
    assert paths
    upper = LayerBuilder()
    for path in sorted(paths):
        upper.whiteout(path)
    second = analyze_layers(tmp_path, [*case.layers, upper])
    assert second.inventory.packages == ()
    if case.analyzer == "os-release":
        assert second.inventory.distro is None


@pytest.mark.parametrize("name", [cls.name for cls in ANALYZER_CLASSES])
@pytest.mark.parametrize("path", ["/etc/hostname", "/usr/share/doc/readme.txt", "/tmp/x.json"])
def test_wants_leaves_unrelated_files_alone(name: str, path: str) -> None:
    analyzer = _analyzer(name)
    assert not analyzer.wants(FileEntry(path, FileKind.REGULAR, 100, 0o644))
    assert not analyzer.wants(FileEntry("/var/lib/dpkg/status", FileKind.DIRECTORY, 0, 0o755))
