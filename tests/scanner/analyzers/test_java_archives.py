"""Java archives under the scan's archive bounds, and archives without a Maven group id (no
purl, no guessed group, never matched by artifact name alone)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from moorage.scanner.analyzers.java import JavaArchiveAnalyzer, count_central_directory, scan_archive
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue, PartialResult, SkipCode
from moorage.scanner.inventory import Ecosystem, Package
from moorage.scanner.limits import ScanLimits
from moorage.scanner.matching.matcher import NO_MAVEN_GROUP, Matcher
from moorage.scanner.sbom import make_writer
from tests.hostile import archive_bombs as bombs
from tests.scanner.analyzers.fixtures import jar_bytes, pom_properties
from tests.scanner.helpers import analyze_layers
from tests.scanner.imagebuild import LayerBuilder

MIB = 1 << 20


def _pom(artifact: str) -> str:
    return pom_properties("org.example", artifact, "1.0")


def _split(result: JsonValue | PartialResult) -> tuple[list[str], list[tuple[SkipCode, str]]]:
    """(artifacts found, (code, message) of what was skipped)."""
    value, skipped = (result.value, result.skipped) if isinstance(result, PartialResult) else (result, ())
    assert isinstance(value, list)
    return [str(item["artifact"]) for item in value if isinstance(item, dict)], [(s.code, s.message) for s in skipped]


def test_a_directory_is_counted_before_zipfile_reads_it() -> None:
    lying = bombs.zip_listing_more_than_declared(50, declared=3)
    assert count_central_directory(lying, 100) == 50
    with pytest.raises(Exception, match="lists more than 10 members"):
        count_central_directory(lying, 10)
    with pytest.raises(ParseError):
        count_central_directory(b"not a zip at all", 10)


def test_nested_archives_past_the_depth_are_reported() -> None:
    found, skipped = _split(scan_archive(bombs.nested_jars(3), "/app.jar", ScanLimits(max_archive_depth=2)))
    assert found == ["level-3", "level-2", "level-1"]
    assert skipped == [
        (
            SkipCode.ARCHIVE_TOO_DEEP,
            "/app.jar!/lib/level-2.jar!/lib/level-1.jar!/lib/level-0.jar: nested deeper than 2 archives: not opened",
        )
    ]


def test_an_unreadable_nested_archive_is_reported() -> None:
    outer = jar_bytes({"lib/broken.jar": b"PK\x03\x04 not really", "META-INF/maven/o/app/pom.properties": _pom("app")})
    found, skipped = _split(scan_archive(outer, "/app.war"))
    assert found == ["app"]
    ((code, message),) = skipped
    assert code is SkipCode.MALFORMED and message.startswith("/app.war!/lib/broken.jar: ")


def test_bytes_and_members_are_counted_across_nested_archives() -> None:
    inner = jar_bytes({"META-INF/maven/o/lib/pom.properties": _pom("lib"), "data.bin": bytes(300_000)})
    outer = bombs.jar({f"lib/{n}.jar": inner for n in range(5)}, compression=zipfile.ZIP_STORED)
    assert len(_split(scan_archive(outer, "/a.war"))[0]) == 5
    budget = 2 * (len(inner) + 200)  # two nested jars and their pom.properties
    found, skipped = _split(scan_archive(outer, "/a.war", ScanLimits(max_archive_bytes=budget)))
    assert len(found) == 2 and len(skipped) == 3
    assert all(code is SkipCode.ARCHIVE_TOO_LARGE and "budget" in message for code, message in skipped)
    found, skipped = _split(scan_archive(outer, "/a.war", ScanLimits(max_archive_members=12)))
    assert len(found) == 3  # the war's 5 members, then 2 per nested jar
    assert all(code is SkipCode.ARCHIVE_TOO_LARGE and "nested in it" in message for code, message in skipped)


def test_overlapping_members_refuse_the_archive() -> None:
    found, skipped = _split(scan_archive(bombs.overlapping_zip("lib/x.jar", 3, 10_000), "/o.jar"))
    assert found == [] and skipped[0][0] is SkipCode.ARCHIVE_TOO_LARGE and "overlap" in skipped[0][1]


def test_a_highly_compressed_member_is_a_bomb() -> None:
    bomb = bombs.zip_with_raw_members([bombs.deflate_bomb_member("lib/in.jar", 64 * MIB)])
    found, ((code, message),) = _split(scan_archive(bomb, "/b.jar"))
    assert found == [] and code is SkipCode.ARCHIVE_TOO_LARGE
    assert re.fullmatch(r"/b\.jar!/lib/in\.jar: inflates 1\d\d\d times its size \(a zip bomb\): not read", message)


def test_the_analyzer_uses_the_limits_it_is_bound_to() -> None:
    entry = FileEntry("/app.jar", FileKind.REGULAR, 0, 0o644)
    analyzer = JavaArchiveAnalyzer()
    assert _split(analyzer.extract(entry, bombs.nested_jars(5)))[1][0][0] is SkipCode.ARCHIVE_TOO_DEEP
    assert _split(analyzer.bound_to(ScanLimits(max_archive_depth=10)).extract(entry, bombs.nested_jars(5)))[1] == []


# -- archives without a group id ---------------------------------------------------------------------------


@pytest.fixture
def legacy(tmp_path: Path) -> list[Package]:
    """``legacy-utils-0.9.jar``: a manifest, no Maven metadata, no vendor id (issue 16's example)."""
    manifest = "Manifest-Version: 1.0\nImplementation-Title: legacy-utils\nImplementation-Version: 0.9\n"
    layer = (
        LayerBuilder()
        .file("/opt/app/lib/legacy-utils-0.9.jar", jar_bytes({"META-INF/MANIFEST.MF": manifest}))
        .file(
            "/opt/app/lib/guava-32.1.3-jre.jar",
            jar_bytes(
                {
                    "META-INF/maven/com.google.guava/guava/pom.properties": pom_properties(
                        "com.google.guava", "guava", "32.1.3-jre"
                    )
                }
            ),
        )
    )
    return list(analyze_layers(tmp_path, [layer]).inventory.packages)


def test_a_jar_without_a_group_id_has_no_maven_purl(legacy: list[Package]) -> None:
    by_name = {p.name: p for p in legacy}
    plain = by_name["legacy-utils"]
    assert (plain.ecosystem, plain.version, plain.namespace, plain.purl) == (Ecosystem.MAVEN, "0.9", "", "")
    assert plain.path == "/opt/app/lib/legacy-utils-0.9.jar" and plain.metadata["source"] == "MANIFEST.MF"
    assert by_name["guava"].purl == "pkg:maven/com.google.guava/guava@32.1.3-jre"


def test_sboms_of_a_jar_without_a_group_id_stay_valid(legacy: list[Package], tmp_path: Path) -> None:
    from moorage.scanner.image_inventory import ImageInventory

    inventory = ImageInventory(name="legacy", packages=tuple(legacy))
    cyclonedx = make_writer("cyclonedx").render([inventory])
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cyclonedx) is None
    components = {c["name"]: c for c in json.loads(cyclonedx)["components"]}
    assert "purl" not in components["legacy-utils"] and "group" not in components["legacy-utils"]
    assert components["guava"]["purl"].startswith("pkg:maven/com.google.guava/")
    spdx = {p["name"]: p for p in json.loads(make_writer("spdx").render([inventory]))["packages"]}
    assert "externalRefs" not in spdx["legacy-utils"]
    assert spdx["legacy-utils"]["packageFileName"] == "/opt/app/lib/legacy-utils-0.9.jar"
    assert spdx["guava"]["externalRefs"][0]["referenceLocator"].startswith("pkg:maven/com.google.guava/")


def test_the_matcher_never_matches_an_artifact_name_alone(legacy: list[Package], tmp_path: Path) -> None:
    from moorage.scanner.advisories.store import AdvisoryStore
    from tests.scanner.matching.world import build_world

    log4j = Package(Ecosystem.MAVEN, "log4j-core", "2.14.1", "", path="/opt/log4j-core-2.14.1.jar")
    with AdvisoryStore(build_world(tmp_path / "world")) as store:
        result = Matcher(store).match([log4j, *legacy], None)
    skipped = {(s.package.name, s.reason) for s in result.skipped}
    assert ("log4j-core", NO_MAVEN_GROUP) in skipped and ("legacy-utils", NO_MAVEN_GROUP) in skipped
    assert result.findings == ()
