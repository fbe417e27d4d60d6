"""The matcher on a database built from feeds in every source format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from moorage.scanner.advisories.builder import build_database
from moorage.scanner.advisories.records import FixState, NameKind, Severity
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from moorage.scanner.inventory import Distro, Ecosystem, Package
from moorage.scanner.matching import FINDING_JSON_SCHEMA, Matcher, VulnerabilityFinding, match_packages
from tests.scanner.advisories.feedwriters import csaf_vex, osv_record, write_osv_dir
from tests.scanner.matching.world import CVSS_MEDIUM, build_world

BOOKWORM = Distro("debian", "12", codename="bookworm")
LAYER = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryStore]:
    with AdvisoryStore(build_world(tmp_path_factory.mktemp("world"))) as opened:
        yield opened


def _pypi(name: str, version: str) -> Package:
    return Package(
        Ecosystem.PYPI,
        name,
        version,
        f"pkg:pypi/{name.lower()}@{version}",
        layer_digest=LAYER,
        path=f"/usr/lib/python3/dist-packages/{name}-{version}.dist-info/METADATA",
    )


def _deb(name: str, version: str, source: str = "", source_version: str = "") -> Package:
    return Package(
        Ecosystem.DEB,
        name,
        version,
        f"pkg:deb/debian/{name}@{version}?distro=debian-12",
        source_name=source,
        source_version=source_version,
        layer_digest=LAYER,
        path="/var/lib/dpkg/status",
    )


def _by_id(findings: list[VulnerabilityFinding]) -> dict[str, VulnerabilityFinding]:
    return {f.vulnerability_id: f for f in findings}


def test_language_records_merge_through_aliases(store: AdvisoryStore) -> None:
    [finding] = match_packages([_pypi("requests", "2.30.0")], None, store)
    assert finding.vulnerability_id == "CVE-2024-1000"
    assert finding.aliases == ("GHSA-aaaa-aaaa-aaaa", "PYSEC-2024-1")
    assert (finding.installed_version, finding.fixed_version, finding.fix_state) == (
        "2.30.0",
        "2.31.0",
        FixState.FIXED,
    )
    assert (finding.severity, finding.severity_source) == (Severity.MEDIUM, "osv GHSA-aaaa-aaaa-aaaa")
    assert (finding.score, finding.cvss_vector) == (5.3, CVSS_MEDIUM)
    assert finding.title == "Requests leaks Proxy-Authorization headers"
    assert finding.description == "Requests before 2.31.0 leaks headers."
    assert {m.record_id for m in finding.matched_by} == {"GHSA-aaaa-aaaa-aaaa", "PYSEC-2024-1"}
    assert all(m.affected_range == ">=0, <2.31.0" and m.compared_version == "2.30.0" for m in finding.matched_by)
    assert (finding.layer_digest, finding.path) == (LAYER, _pypi("requests", "2.30.0").path)
    assert "https://osv.dev/vulnerability/PYSEC-2024-1" in finding.links
    assert match_packages([_pypi("requests", "2.31.0")], None, store) == [], "fixed version and withdrawn record"


def test_last_affected_means_unfixed(store: AdvisoryStore) -> None:
    [finding] = match_packages([_pypi("jinja2", "3.1.2")], None, store)
    assert (finding.vulnerability_id, finding.fix_state, finding.fixed_version) == (
        "GHSA-bbbb-bbbb-bbbb",
        FixState.UNFIXED,
        "",
    )
    assert finding.title == "Jinja2 sandbox escape."
    assert finding.severity is Severity.UNKNOWN and finding.score is None
    assert match_packages([_pypi("Jinja2", "3.1.3")], None, store) == []
    assert match_packages([_pypi("jinja2", "2.11.3")], None, store) == []


def test_namespaced_ecosystems(store: AdvisoryStore) -> None:
    packages = [
        Package(Ecosystem.NPM, "traverse", "7.23.0", "pkg:npm/%40babel/traverse@7.23.0", namespace="@babel"),
        Package(
            Ecosystem.GOLANG,
            "gin",
            "v1.5.0",
            "pkg:golang/github.com/gin-gonic/gin@v1.5.0",
            namespace="github.com/gin-gonic",
        ),
        Package(Ecosystem.GOLANG, "stdlib", "go1.20.1", "pkg:golang/stdlib@go1.20.1"),
        Package(
            Ecosystem.MAVEN,
            "log4j-core",
            "2.14.1",
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            namespace="org.apache.logging.log4j",
        ),
    ]
    found = _by_id(match_packages(packages, None, store))
    assert set(found) == {"CVE-2023-45133", "CVE-2020-36567", "CVE-2023-29403", "CVE-2021-44228"}
    assert found["CVE-2023-45133"].severity is Severity.CRITICAL
    assert found["CVE-2023-45133"].severity_source == "cvss 3.1"
    assert found["CVE-2020-36567"].aliases == ("GHSA-6vm3-jj99-7229", "GO-2020-0001")
    assert found["CVE-2020-36567"].matched_by[0].affected_range == ">=0, <1.6.0"
    assert found["CVE-2023-29403"].fixed_version == "1.20.5"
    assert found["CVE-2021-44228"].severity_source == "osv GHSA-jfh8-c2jp-5v3q"
    assert found["CVE-2021-44228"].score == 10.0
    assert match_packages([Package(Ecosystem.GOLANG, "stdlib", "go1.19.9", "pkg:golang/stdlib")], None, store) == []


def test_debian_by_source_package_with_vendor_states(store: AdvisoryStore) -> None:
    packages = [
        _deb("libssl3", "3.0.11-1~deb12u1", source="openssl"),
        _deb("libc6", "2.36-9+deb12u1", source="glibc"),
        _deb("zlib1g", "1:1.2.13.dfsg-1", source="zlib", source_version="1.2.13.dfsg-1"),
        _deb("gcc", "4:12.2.0-3", source="gcc-defaults", source_version="1.203"),
        _deb("libssl3-fixed", "3.0.11-1~deb12u2", source="openssl"),
    ]
    result = Matcher(store).match(packages, BOOKWORM)
    assert result.skipped == () and result.problems == ()
    by_package = {(f.package_name, f.vulnerability_id): f for f in result.findings}
    assert set(by_package) == {
        ("libssl3", "CVE-2023-5678"),
        ("libc6", "CVE-2023-4911"),
        ("zlib1g", "CVE-2023-45853"),
        ("gcc", "CVE-2099-0001"),
    }
    openssl = by_package[("libssl3", "CVE-2023-5678")]
    assert (openssl.fixed_version, openssl.fix_state) == ("3.0.11-1~deb12u2", FixState.FIXED)
    assert (openssl.severity, openssl.severity_source) == (Severity.MEDIUM, "nvd cvss 3.1")
    assert openssl.title == "openssl: problem CVE-2023-5678"
    [evidence] = openssl.matched_by
    assert (evidence.source, evidence.scope, evidence.package_name, evidence.name_kind) == (
        "debian",
        "debian:12",
        "openssl",
        NameKind.SOURCE,
    )
    glibc = by_package[("libc6", "CVE-2023-4911")]
    assert (glibc.severity, glibc.severity_source) == (Severity.HIGH, "debian CVE-2023-4911")
    zlib = by_package[("zlib1g", "CVE-2023-45853")]
    assert (zlib.fix_state, zlib.fixed_version) == (FixState.WILL_NOT_FIX, "")
    assert "ignored" in zlib.matched_by[0].note
    assert zlib.severity is Severity.CRITICAL, "no Debian rating: NVD's CVSS decides"
    gcc = by_package[("gcc", "CVE-2099-0001")]
    assert gcc.matched_by[0].compared_version == "1.203", "the source version is compared, not 4:12.2.0-3"


def test_debian_binary_name_fallback_and_other_release(store: AdvisoryStore) -> None:
    assert [f.vulnerability_id for f in match_packages([_deb("openssl", "3.0.9-1")], None, store)] == []
    [finding] = match_packages([_deb("openssl", "3.0.9-1")], BOOKWORM, store)
    assert finding.matched_by[0].name_kind is NameKind.BINARY
    [deferred] = match_packages(
        [_deb("libssl1.1", "1.1.1w-0+deb11u1", source="openssl")],
        Distro("debian", "11", codename="bullseye"),
        store,
    )
    assert (deferred.fix_state, deferred.severity) == (FixState.DEFERRED, Severity.LOW)
    assert match_packages([_deb("libssl3", "3.0.9-1", source="openssl")], Distro("debian", "13"), store) == []


def test_alpine_origin_package(store: AdvisoryStore) -> None:
    package = Package(
        Ecosystem.APK,
        "libcrypto3",
        "3.1.4-r0",
        "pkg:apk/alpine/libcrypto3@3.1.4-r0",
        source_name="openssl",
        layer_digest=LAYER,
        path="/lib/apk/db/installed",
    )
    [finding] = match_packages([package], Distro("alpine", "3.19.1"), store)
    assert (finding.vulnerability_id, finding.fixed_version) == ("CVE-2023-5678", "3.1.4-r1")
    assert finding.matched_by[0].scope == "alpine:3.19"
    assert match_packages([package], Distro("alpine", "3.18.4"), store) == []


def test_rhel_rebuilds_fall_back_to_red_hat(store: AdvisoryStore) -> None:
    libs = Package(
        Ecosystem.RPM,
        "openssl-libs",
        "1:3.0.7-10.el9",
        "pkg:rpm/rocky/openssl-libs@3.0.7-10.el9?epoch=1",
        source_name="openssl-3.0.7-10.el9.src.rpm",
        path="/var/lib/rpm/rpmdb.sqlite",
    )
    rocky = Distro("rocky", "9.3", id_like=("rhel", "centos", "fedora"))
    [finding] = match_packages([libs], rocky, store)
    assert (finding.vulnerability_id, finding.fixed_version) == ("CVE-2023-0286", "1:3.0.7-16.el9_2")
    assert finding.severity_source == "redhat CVE-2023-0286" and finding.severity is Severity.HIGH
    assert finding.matched_by[0].name_kind is NameKind.SOURCE and finding.matched_by[0].note == "RHSA-2023:0946"
    fixed = Package(
        Ecosystem.RPM,
        "openssl-libs",
        "1:3.0.7-16.el9_2",
        "pkg:rpm/rocky/openssl-libs",
        source_name="openssl-3.0.7-16.el9_2.src.rpm",
    )
    assert match_packages([fixed], rocky, store) == []
    old = Package(Ecosystem.RPM, "openssl", "1:1.1.1k-9.el8_7", "pkg:rpm/redhat/openssl", source_name="openssl")
    [deferred] = match_packages([old], Distro("rhel", "8.9"), store)
    assert (deferred.fix_state, deferred.fixed_version) == (FixState.DEFERRED, "")


def test_packages_that_cannot_be_matched_say_why(store: AdvisoryStore) -> None:
    packages = [
        _deb("libssl3", "3.0.9-1", source="openssl"),
        Package(Ecosystem.APK, "musl", "1.2.4-r2", "pkg:apk/alpine/musl"),
        Package(Ecosystem.NUGET, "Newtonsoft.Json", "13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1"),
        _pypi("requests", "not a version!"),
    ]
    result = Matcher(store).match(packages, BOOKWORM)
    reasons = {s.package.name: s.reason for s in result.skipped}
    assert reasons["musl"] == "apk package in a debian image"
    assert reasons["Newtonsoft.Json"] == "the database has no nuget advisories"
    assert reasons["requests"].startswith("version not comparable")
    assert [f.package_name for f in result.findings] == ["libssl3"]
    assert Matcher(store).match(packages[:1], None).skipped[0].reason == "no distribution detected for an OS package"
    assert Matcher(store).match(packages[:1], Distro("arch", "")).skipped[0].reason.startswith("distribution 'arch'")
    assert (
        "no advisories for ubuntu 22.04"
        in Matcher(store).match(packages[:1], Distro("ubuntu", "22.04")).skipped[0].reason
    )


def test_findings_json_is_stable_and_valid(store: AdvisoryStore) -> None:
    packages = [
        _pypi("requests", "2.0.0"),
        _pypi("jinja2", "3.0.0"),
        _deb("libssl3", "3.0.9-1", source="openssl"),
        _deb("zlib1g", "1:1.2.13.dfsg-1", source="zlib"),
    ]
    findings = match_packages(packages, BOOKWORM, store)
    assert len(findings) == 4
    assert [f.severity.rank for f in findings] == sorted((f.severity.rank for f in findings), reverse=True)
    for finding in findings:
        body = finding.to_json()
        jsonschema.validate(body, FINDING_JSON_SCHEMA)
        assert VulnerabilityFinding.from_json(body) == finding
    bad = findings[0].to_json() | {"severity": "apocalyptic"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, FINDING_JSON_SCHEMA)


def test_matcher_is_reusable_across_inventories(store: AdvisoryStore) -> None:
    matcher = Matcher(store)
    first = matcher.match([_pypi("requests", "2.30.0")], None).findings
    second = matcher.match([_pypi("requests", "2.30.0"), _pypi("jinja2", "3.1.0")], None).findings
    assert first[0] == next(f for f in second if f.package_name == "requests")
    assert len(second) == 2


def test_own_release_records_win_over_the_rhel_fallback(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    osv = write_osv_dir(
        feeds / "osv",
        [
            osv_record(
                "RLSA-2024:1",
                ecosystem="Rocky Linux:9",
                package="bash",
                events=[{"introduced": "0"}, {"fixed": "5.1.8-9.el9"}],
            )
        ],
    )
    redhat = feeds / "redhat"
    redhat.mkdir()
    (redhat / "cve.json").write_text(
        json.dumps(csaf_vex("CVE-2024-0002", fixed=[("BaseOS-9.4.0.Z.MAIN", "bash-5.1.8-10.el9.src", "RHSA-2024:2")]))
    )
    database = tmp_path / "db.sqlite"
    build_database([parse_source(f"osv:{osv}"), parse_source(f"redhat:{redhat}")], database)
    bash = Package(Ecosystem.RPM, "bash", "5.1.8-6.el9", "pkg:rpm/rocky/bash", source_name="bash-5.1.8-6.el9.src.rpm")
    with AdvisoryStore(database) as own:
        [rocky] = match_packages([bash], Distro("rocky", "9.3"), own)
        [alma] = match_packages([bash], Distro("almalinux", "9.3"), own)
    assert (rocky.vulnerability_id, rocky.matched_by[0].scope) == ("RLSA-2024:1", "rocky:9")
    assert (alma.vulnerability_id, alma.matched_by[0].scope) == ("CVE-2024-0002", "rhel:9")


def _maven(group: str, artifact: str, version: str) -> Package:
    return Package(
        Ecosystem.MAVEN,
        artifact,
        version,
        f"pkg:maven/{group}/{artifact}@{version}",
        namespace=group,
        layer_digest=LAYER,
        path=f"/app/lib/{artifact}-{version}.jar",
    )


def test_maven_ranges_use_maven_version_order(store: AdvisoryStore, tmp_path: Path) -> None:
    """Pre-releases, ``.RELEASE``/``.Final`` spellings and dotted RCs fall where Maven puts them."""
    log4j = {
        version: bool(match_packages([_maven("org.apache.logging.log4j", "log4j-core", version)], None, store))
        for version in ["2.0-beta8", "2.0-beta9", "2.0-rc1", "2.0", "2.14.1", "2.15.0-rc1", "2.15.0.RC2", "2.15.0",
                        "2.15.0.Final", "2.17.1"]
    }  # fmt: skip
    assert [version for version, hit in log4j.items() if hit] == [
        "2.0-beta9", "2.0-rc1", "2.0", "2.14.1", "2.15.0-rc1", "2.15.0.RC2",
    ]  # fmt: skip
    osv = write_osv_dir(
        tmp_path / "osv",
        [
            osv_record(
                "GHSA-spring-0001",
                ecosystem="Maven",
                package="org.springframework:spring-beans",
                events=[{"introduced": "5.3.0"}, {"last_affected": "5.3.20"}],
                aliases=["CVE-2099-0001"],
            ),
            osv_record(
                "GHSA-netty-0001",
                ecosystem="Maven",
                package="io.netty:netty-codec",
                events=[{"introduced": "0"}, {"fixed": "4.1.0-RC2"}],
                aliases=["CVE-2099-0002"],
            ),
        ],
    )
    database = tmp_path / "db.sqlite"
    build_database([parse_source(f"osv:{osv}")], database)
    with AdvisoryStore(database) as own:
        spring = {
            version: bool(match_packages([_maven("org.springframework", "spring-beans", version)], None, own))
            for version in ["5.2.22.RELEASE", "5.3.0-RC1", "5.3.0.RELEASE", "5.3.20", "5.3.20.RELEASE", "5.3.21"]
        }
        netty = {
            version: bool(match_packages([_maven("io.netty", "netty-codec", version)], None, own))
            for version in ["4.0.56.Final", "4.1.0.CR1", "4.1.0.RC1", "4.1.0-RC2", "4.1.0.Final", "4.1.100.Final"]
        }
    assert [version for version, hit in spring.items() if hit] == ["5.3.0.RELEASE", "5.3.20", "5.3.20.RELEASE"]
    assert [version for version, hit in netty.items() if hit] == ["4.0.56.Final", "4.1.0.CR1", "4.1.0.RC1"]
