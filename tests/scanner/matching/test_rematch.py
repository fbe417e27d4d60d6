"""Re-matching a stored inventory after a database update: findings added, removed, changed.

The stored inventory is only JSON (packages and distribution); the layers it names do not exist
here at all, so the re-match demonstrably needs nothing but the stored packages.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from moorage.scanner.advisories.builder import build_database, update_database
from moorage.scanner.advisories.records import FixState, NameKind, Severity
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.matching import Matcher, MatchEvidence, VulnerabilityFinding, diff_findings
from tests.scanner.advisories.feedwriters import (
    debian_release,
    osv_record,
    write_debian_tracker,
    write_osv_dir,
)

MISSING_LAYER = "sha256:" + "0" * 64


def _store_inventory(path: Path) -> None:
    packages = [
        Package(
            Ecosystem.PYPI,
            "flask",
            "2.2.0",
            "pkg:pypi/flask@2.2.0",
            layer_digest=MISSING_LAYER,
            path="/app/.venv/lib/python3.11/site-packages/flask-2.2.0.dist-info/METADATA",
        ),
        Package(
            Ecosystem.PYPI,
            "urllib3",
            "1.26.5",
            "pkg:pypi/urllib3@1.26.5",
            layer_digest=MISSING_LAYER,
            path="/app/.venv/lib/python3.11/site-packages/urllib3-1.26.5.dist-info/METADATA",
        ),
        Package(
            Ecosystem.DEB,
            "libcurl4",
            "7.88.1-10",
            "pkg:deb/debian/libcurl4@7.88.1-10",
            source_name="curl",
            layer_digest=MISSING_LAYER,
            path="/var/lib/dpkg/status",
        ),
    ]
    body = {
        "distro": dataclasses.asdict(Distro("debian", "12", codename="bookworm")),
        "packages": [dataclasses.asdict(p) for p in packages],
    }
    path.write_text(json.dumps(body))


def _load_inventory(path: Path) -> tuple[list[Package], Distro]:
    body = json.loads(path.read_text())
    distro = body["distro"]
    distro["id_like"] = tuple(distro["id_like"])
    packages = [
        Package(**{**p, "ecosystem": Ecosystem(p["ecosystem"]), "licenses": tuple(p["licenses"])})
        for p in body["packages"]
    ]
    return packages, Distro(**distro)


def _write_feeds(feeds: Path, *, version: int) -> None:
    records = [
        osv_record(
            "GHSA-flask-0001",
            package="flask",
            events=[{"introduced": "0"}, {"fixed": "2.2.5"}],
            aliases=["CVE-2023-30861"],
        ),
        osv_record(
            "GHSA-urllib3-0001",
            package="urllib3",
            events=[{"introduced": "0"}, {"fixed": "1.26.17"}],
            withdrawn="2024-01-01T00:00:00Z" if version == 2 else None,
        ),
    ]
    if version == 2:
        records.append(
            osv_record("GHSA-flask-0002", package="flask", events=[{"introduced": "2.0"}, {"fixed": "2.3.2"}])
        )
    for stale in (feeds / "osv").glob("*.json"):
        stale.unlink()
    write_osv_dir(feeds / "osv", records)
    curl_state = (
        debian_release("open", urgency="medium")
        if version == 1
        else debian_release("resolved", fixed_version="7.88.1-10+deb12u4", urgency="high")
    )
    write_debian_tracker(feeds / "debian.json", {"curl": {"CVE-2023-38545": {"bookworm": curl_state}}})


def test_rematch_after_update_adds_removes_and_changes(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.json"
    _store_inventory(inventory)
    feeds = tmp_path / "feeds"
    _write_feeds(feeds, version=1)
    database = tmp_path / "advisories.sqlite"
    build_database([parse_source(f"osv:{feeds / 'osv'}"), parse_source(f"debian:{feeds / 'debian.json'}")], database)

    packages, distro = _load_inventory(inventory)
    with AdvisoryStore(database) as store:
        before = Matcher(store).match(packages, distro).findings
    assert {(f.package_name, f.vulnerability_id) for f in before} == {
        ("flask", "CVE-2023-30861"),
        ("urllib3", "GHSA-urllib3-0001"),
        ("libcurl4", "CVE-2023-38545"),
    }

    _write_feeds(feeds, version=2)
    update_database(database)
    packages, distro = _load_inventory(inventory)
    with AdvisoryStore(database) as store:
        after = Matcher(store).match(packages, distro).findings

    diff = diff_findings(before, after)
    assert [(f.package_name, f.vulnerability_id) for f in diff.added] == [("flask", "GHSA-flask-0002")]
    assert [(f.package_name, f.vulnerability_id) for f in diff.removed] == [("urllib3", "GHSA-urllib3-0001")]
    [(old, new)] = diff.changed
    assert (old.fix_state, old.fixed_version, old.severity) == (FixState.UNFIXED, "", Severity.MEDIUM)
    assert (new.fix_state, new.fixed_version, new.severity) == (
        FixState.FIXED,
        "7.88.1-10+deb12u4",
        Severity.HIGH,
    )
    assert all(f.layer_digest == MISSING_LAYER for f in after)


def test_diff_pairs_findings_whose_main_id_changed() -> None:
    package = Package(Ecosystem.NPM, "lodash", "4.17.20", "pkg:npm/lodash@4.17.20")

    evidence = MatchEvidence(
        "osv", "GHSA-x", "npm", "lodash", NameKind.PACKAGE, "4.17.20", ">=0", "", FixState.UNFIXED, ""
    )
    base = VulnerabilityFinding(
        vulnerability_id="GHSA-x",
        aliases=(),
        ecosystem=package.ecosystem,
        package_name=package.name,
        installed_version=package.version,
        purl=package.purl,
        fixed_version="",
        fix_state=FixState.UNFIXED,
        severity=Severity.UNKNOWN,
        severity_source="",
        score=None,
        cvss_vector="",
        title="",
        description="",
        links=(),
        matched_by=(evidence,),
    )
    renamed = dataclasses.replace(base, vulnerability_id="CVE-2021-23337", aliases=("GHSA-x",))
    diff = diff_findings([base], [renamed])
    assert (diff.added, diff.removed, diff.changed) == ((), (), ())
