"""OSV importer: documents written as OSV publishes them, in a directory, a zip, YAML."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.osv import OsvImporter
from moorage.scanner.advisories.records import AdvisoryRecord, EventKind, NameKind, Severity
from moorage.scanner.inventory import Ecosystem
from tests.scanner.advisories.feedwriters import osv_record, write_osv_dir


def _read(location: Path) -> tuple[list[AdvisoryRecord], ImportTally]:
    tally = ImportTally()
    records = [r for r in OsvImporter().read(location, tally) if isinstance(r, AdvisoryRecord)]
    return records, tally


def test_language_record_keeps_ranges_aliases_and_severity(tmp_path: Path) -> None:
    record = osv_record(
        "GHSA-aaaa-bbbb-cccc",
        package="Django_Rest.Framework",
        ranges=[
            {
                "type": "GIT",
                "repo": "https://example.test/repo",
                "events": [{"introduced": "0"}, {"fixed": "abc"}],
            },
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.3"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"last_affected": "2.1"}]},
        ],
        aliases=["CVE-2024-0001", "PYSEC-2024-1"],
        summary="Bad thing",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        database_specific={"severity": "MODERATE"},
    )
    records, tally = _read(write_osv_dir(tmp_path / "osv", [record]))
    assert not tally.skipped
    [converted] = records
    assert converted.id == "GHSA-aaaa-bbbb-cccc"
    assert converted.aliases == ("CVE-2024-0001", "PYSEC-2024-1")
    assert converted.severity is Severity.MEDIUM
    assert converted.cvss_vectors == ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",)
    [affected] = converted.affected
    assert (affected.scope, affected.ecosystem, affected.name) == (
        "pypi",
        Ecosystem.PYPI,
        "django-rest-framework",
    )
    assert affected.name_kind is NameKind.PACKAGE
    assert len(affected.ranges) == 2, "the GIT range is dropped"
    assert [e.kind for e in affected.ranges[1].events] == [EventKind.INTRODUCED, EventKind.LAST_AFFECTED]


def test_withdrawn_records_are_dropped_and_counted(tmp_path: Path) -> None:
    live = osv_record("GO-2024-0001", ecosystem="Go", package="example.com/mod", events=[{"introduced": "0"}])
    gone = osv_record(
        "GO-2024-0002",
        ecosystem="Go",
        package="example.com/mod",
        events=[{"introduced": "0"}],
        withdrawn="2024-02-01T00:00:00Z",
    )
    records, tally = _read(write_osv_dir(tmp_path / "osv", [live, gone]))
    assert [r.id for r in records] == ["GO-2024-0001"]
    assert tally.skipped["withdrawn"] == 1


@pytest.mark.parametrize(
    ("ecosystem", "scope", "package_ecosystem"),
    [
        ("Debian:12", "debian:12", Ecosystem.DEB),
        ("Ubuntu:22.04:LTS", "ubuntu:22.04", Ecosystem.DEB),
        ("Alpine:v3.19", "alpine:3.19", Ecosystem.APK),
        ("Rocky Linux:9", "rocky:9", Ecosystem.RPM),
        ("AlmaLinux:8", "almalinux:8", Ecosystem.RPM),
        ("Red Hat:enterprise_linux:9::appstream", "rhel:9", Ecosystem.RPM),
        ("openSUSE:Leap 15.5", "opensuse-leap:15.5", Ecosystem.RPM),
        ("SUSE:Linux Enterprise Server 15 SP5", "sles:15.5", Ecosystem.RPM),
        ("Wolfi", "wolfi:", Ecosystem.APK),
        ("npm", "npm", Ecosystem.NPM),
        ("crates.io", "cargo", Ecosystem.CARGO),
        ("Packagist", "composer", Ecosystem.COMPOSER),
        ("Maven", "maven", Ecosystem.MAVEN),
        ("NuGet", "nuget", Ecosystem.NUGET),
        ("RubyGems", "gem", Ecosystem.GEM),
    ],
)
def test_ecosystem_names_map_to_scopes(
    tmp_path: Path, ecosystem: str, scope: str, package_ecosystem: Ecosystem
) -> None:
    version = {Ecosystem.DEB: "1.0-1", Ecosystem.APK: "1.0-r1", Ecosystem.RPM: "1.0-1.el9"}.get(
        package_ecosystem, "1.0.0"
    )
    record = osv_record("X-1", ecosystem=ecosystem, package="Pkg", events=[{"introduced": "0"}, {"fixed": version}])
    [converted], _ = _read(write_osv_dir(tmp_path, [record]))
    assert converted.affected[0].scope == scope
    assert converted.affected[0].ecosystem is package_ecosystem
    expected_kind = NameKind.PACKAGE if ":" not in scope else NameKind.SOURCE
    assert converted.affected[0].name_kind is expected_kind


@pytest.mark.parametrize("ecosystem", ["Hex", "Pub", "Ubuntu:Pro:18.04:LTS", "Debian", "GIT", "Bitnami"])
def test_unsupported_ecosystems_are_counted(tmp_path: Path, ecosystem: str) -> None:
    record = osv_record("X-2", ecosystem=ecosystem, events=[{"introduced": "0"}])
    records, tally = _read(write_osv_dir(tmp_path, [record]))
    assert records == []
    assert tally.skipped["unsupported ecosystem"] == 1
    assert tally.skipped["nothing to match"] == 1


def test_invalid_versions_drop_the_range_not_the_import(tmp_path: Path) -> None:
    record = osv_record(
        "PYSEC-1",
        ranges=[
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "not a version!"}]},
            {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "3.1"}]},
        ],
    )
    [converted], tally = _read(write_osv_dir(tmp_path, [record]))
    assert len(converted.affected[0].ranges) == 1
    assert tally.skipped["invalid version"] == 1


def test_versions_list_alone_is_enough(tmp_path: Path) -> None:
    record = osv_record(
        "PYSEC-2",
        ranges=[{"type": "GIT", "repo": "r", "events": [{"introduced": "0"}, {"fixed": "deadbeef"}]}],
        versions=["1.0", "1.1"],
    )
    [converted], _ = _read(write_osv_dir(tmp_path, [record]))
    assert converted.affected[0].ranges == ()
    assert converted.affected[0].versions == ("1.0", "1.1")


def test_malformed_documents_are_skipped_with_their_name(tmp_path: Path) -> None:
    directory = write_osv_dir(tmp_path, [osv_record("OK-1", events=[{"introduced": "0"}])])
    (directory / "broken.json").write_text("{not json")
    (directory / "wrong.json").write_text(json.dumps({"id": "W-1", "affected": "nope"}))
    records, tally = _read(directory)
    assert [r.id for r in records] == ["OK-1"]
    assert tally.skipped["malformed document"] == 2
    assert any("broken.json" in warning for warning in tally.warnings)


def test_zip_as_osv_dev_publishes_it(tmp_path: Path) -> None:
    archive = tmp_path / "PyPI.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for number in range(3):
            record = osv_record(f"PYSEC-{number}", events=[{"introduced": "0"}, {"fixed": f"1.{number}"}])
            out.writestr(f"PYSEC-{number}.json", json.dumps(record))
        out.writestr("README.txt", "not a record")
    records, tally = _read(archive)
    assert sorted(r.id for r in records) == ["PYSEC-0", "PYSEC-1", "PYSEC-2"]
    assert not tally.skipped


def test_yaml_keeps_versions_as_written(tmp_path: Path) -> None:
    (tmp_path / "PYSEC-9.yaml").write_text(
        "id: PYSEC-9\n"
        "affected:\n"
        "- package: {name: example, ecosystem: PyPI}\n"
        "  ranges:\n"
        "  - type: ECOSYSTEM\n"
        "    events:\n"
        "    - introduced: 0\n"
        "    - fixed: 1.10\n"
        "aliases: [CVE-2020-9]\n"
    )
    [converted], _ = _read(tmp_path)
    events = converted.affected[0].ranges[0].events
    assert [e.version for e in events] == ["0", "1.10"], "1.10 must not become the float 1.1"
