"""Re-matching a stored report after a database update: findings added, removed and kept, ids
carried over, and no layer touched (the layout's blobs are gone before the re-match)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from moorage.cli.main import app
from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.image_inventory import inventory_to_json
from moorage.scanner.matching import diff_findings
from moorage.scanner.report import (
    ScanReport,
    report_from_json,
    report_json_schema,
    report_or_inventory_from_json,
    report_to_json,
)
from moorage.scanner.scan import rematch, scan
from moorage.scanner.sources import OciLayoutSource

from .conftest import PlantedImage, scan_options, write_feeds


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rematch-db")
    paths = []
    for version in (1, 2):
        database = root / f"v{version}.sqlite"
        build_database([parse_source(s) for s in write_feeds(root / "feeds", version=version)], database)
        paths.append(database)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def stored(
    planted: PlantedImage, databases: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, ScanReport]:
    """A report made with database 1, stored as JSON; the image's layers then deleted."""
    work = tmp_path_factory.mktemp("stored")
    layout = work / "layout"
    shutil.copytree(planted.layout, layout)
    with AdvisoryStore(databases[0]) as store, OciLayoutSource(layout) as source:
        report = scan(source, scan_options(store))
    path = work / "report.json"
    path.write_text(json.dumps(report_to_json(report)))
    shutil.rmtree(layout / "blobs")  # no layer (nor config, nor manifest) can be read any more
    return path, report


def _ids(report: ScanReport) -> dict[str, str]:
    return {v.finding.vulnerability_id: v.finding_id for v in report.vulnerabilities}


def test_rematch_adds_removes_and_keeps_findings_without_layers(
    stored: tuple[Path, ScanReport], databases: tuple[Path, Path]
) -> None:
    path, before = stored
    assert set(_ids(before)) == {"GHSA-rrrr-1111-aaaa", "GHSA-ffff-2222-bbbb", "CVE-2023-4911"}
    old = report_from_json(json.loads(path.read_text()))
    with AdvisoryStore(databases[1]) as store:
        after = rematch(old, store)
    assert set(_ids(after)) == {"CVE-2024-7777", "GHSA-nnnn-3333-cccc", "CVE-2023-4911"}
    change = diff_findings([v.finding for v in old.vulnerabilities], [v.finding for v in after.vulnerabilities])
    assert [f.vulnerability_id for f in change.added] == ["GHSA-nnnn-3333-cccc"]
    assert [f.vulnerability_id for f in change.removed] == ["GHSA-ffff-2222-bbbb"]
    # The GHSA gained its CVE, which is now the main id: the finding keeps its report id.
    assert _ids(after)["CVE-2024-7777"] == _ids(before)["GHSA-rrrr-1111-aaaa"]
    assert _ids(after)["CVE-2023-4911"] == _ids(before)["CVE-2023-4911"]
    assert _ids(after)["GHSA-nnnn-3333-cccc"] not in _ids(before).values()
    # Everything else is the stored report's.
    assert after.findings == old.findings and after.image == old.image and after.inventory == old.inventory
    assert after.database is not None and old.database is not None
    assert after.database.built_at >= old.database.built_at
    assert set(after.timings) == {"matching", "total"}
    jsonschema.Draft202012Validator(report_json_schema()).validate(report_to_json(after))


def test_rematch_of_a_bare_inventory(stored: tuple[Path, ScanReport], databases: tuple[Path, Path]) -> None:
    _, before = stored
    inventory = report_or_inventory_from_json(json.loads(json.dumps(inventory_to_json(before.inventory))))
    with AdvisoryStore(databases[1]) as store:
        after = rematch(inventory, store)
    assert after.scanners == ("vuln",) and after.findings == ()
    assert set(_ids(after)) == {"CVE-2024-7777", "GHSA-nnnn-3333-cccc", "CVE-2023-4911"}
    assert {v.layer_index for v in after.vulnerabilities} == {0, 1}
    assert [layer.digest for layer in after.image.layers] == list(before.inventory.layers)


def test_rematch_command(stored: tuple[Path, ScanReport], databases: tuple[Path, Path], tmp_path: Path) -> None:
    path, before = stored
    out = tmp_path / "new.json"
    result = CliRunner().invoke(app, ["rematch", str(path), "--db", str(databases[1]), "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 added, 1 removed, 0 changed" in result.output
    new = report_from_json(json.loads(out.read_text()))
    assert _ids(new)["CVE-2024-7777"] == _ids(before)["GHSA-rrrr-1111-aaaa"]
    gate = CliRunner().invoke(
        app, ["rematch", str(path), "--db", str(databases[1]), "--severity", "unknown", "--exit-code", "5"]
    )
    assert gate.exit_code == 5
    missing = CliRunner().invoke(app, ["rematch", str(path), "--db", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no advisory database" in missing.output
    junk = tmp_path / "junk.json"
    junk.write_text('{"schema": "something-else"}')
    assert CliRunner().invoke(app, ["rematch", str(junk), "--db", str(databases[1])]).exit_code == 2
