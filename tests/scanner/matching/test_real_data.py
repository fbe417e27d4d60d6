"""Matching against real published advisory data (read at test time, never copied into the repo).

The snapshots live in ``../shared/data/advisories`` beside the repository (see its README): the
Alpine secdb history, the Go vulnerability database and the PyPA advisory database. Their quirks
(typos, withdrawn records, GIT-only ranges, long ``versions`` lists) are the point.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.matching import Matcher

REAL_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "advisories"

pytestmark = pytest.mark.skipif(not REAL_DATA.is_dir(), reason="shared advisory data not present")


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryStore]:
    database = tmp_path_factory.mktemp("real") / "advisories.sqlite"
    build_database(
        [
            parse_source(f"alpine:{REAL_DATA / 'alpine-secdb'}"),
            parse_source(f"osv:{REAL_DATA / 'golang-vulndb' / 'data' / 'osv'}"),
            parse_source(f"osv:{REAL_DATA / 'pypa-advisory-database' / 'vulns'}"),
        ],
        database,
    )
    with AdvisoryStore(database) as store:
        yield store


def test_build_counts_and_left_out(real_store: AdvisoryStore) -> None:
    info = real_store.info()
    alpine, golang, pypa = info.sources
    assert alpine.records > 10_000 and golang.records > 4_000 and pypa.records > 2_500
    assert golang.skipped["withdrawn"] >= 10 and pypa.skipped["withdrawn"] >= 5
    assert info.scopes["alpine:3.11"] > 1_000
    assert real_store.find("GO-2022-0617") == [], "withdrawn"


def test_known_vulnerabilities_are_found(real_store: AdvisoryStore) -> None:
    packages = [
        Package(Ecosystem.PYPI, "aiohttp", "3.7.3", "pkg:pypi/aiohttp@3.7.3"),
        Package(
            Ecosystem.GOLANG,
            "gin",
            "v1.5.0",
            "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
            namespace="github.com/gin-gonic",
        ),
        Package(
            Ecosystem.APK,
            "libcrypto1.1",
            "1.1.1d-r0",
            "pkg:apk/alpine/libcrypto1.1@1.1.1d-r0",
            source_name="openssl",
        ),
    ]
    result = Matcher(real_store).match(packages, Distro("alpine", "3.11.3"))
    assert result.skipped == ()
    found = {(f.package_name, f.vulnerability_id): f for f in result.findings}
    aiohttp = found[("aiohttp", "CVE-2021-21330")]
    assert aiohttp.fixed_version == "3.7.4"
    assert {"PYSEC-2021-76", "GHSA-v6wp-4m6f-gcjg"} <= set(aiohttp.aliases)
    assert found[("gin", "CVE-2020-36567")].fixed_version == "1.6.0"
    assert found[("libcrypto1.1", "CVE-2019-1551")].fixed_version == "1.1.1d-r3"
    assert found[("libcrypto1.1", "CVE-2019-1551")].matched_by[0].scope == "alpine:3.11"


def test_fixed_versions_are_not_reported(real_store: AdvisoryStore) -> None:
    packages = [
        Package(Ecosystem.PYPI, "aiohttp", "3.7.4", "pkg:pypi/aiohttp@3.7.4"),
        Package(
            Ecosystem.APK,
            "libcrypto1.1",
            "1.1.1d-r3",
            "pkg:apk/alpine/libcrypto1.1@1.1.1d-r3",
            source_name="openssl",
        ),
    ]
    ids = {f.vulnerability_id for f in Matcher(real_store).match(packages, Distro("alpine", "3.11.3")).findings}
    assert "CVE-2021-21330" not in ids and "CVE-2019-1551" not in ids and "CVE-2019-1547" not in ids
