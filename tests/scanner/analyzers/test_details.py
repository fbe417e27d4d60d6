"""What each analyzer reports beyond name and version: source packages, epochs, licenses, group
ids, nested locations, and language packages owned by OS packages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from moorage.scanner.inventory import Ecosystem, Package
from tests.scanner.analyzers.fixtures import AnalyzerCase, jar_bytes, pom_properties
from tests.scanner.helpers import analyze_layers, by_name
from tests.scanner.imagebuild import LayerBuilder
from tests.support.tools import require_tool


def _packages(tmp_path: Path, case: AnalyzerCase, ecosystem: Ecosystem) -> list[Package]:
    result = analyze_layers(tmp_path, list(case.layers))
    return [p for p in result.inventory.packages if p.ecosystem is ecosystem]


def test_dpkg_source_package_version_arch_and_purl(
    tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]
) -> None:
    debs = by_name(_packages(tmp_path, analyzer_cases("dpkg"), Ecosystem.DEB), Ecosystem.DEB)
    assert (debs["libc6"].source_name, debs["libc6"].source_version) == ("glibc", "")
    assert (debs["libssl3"].source_name, debs["libssl3"].source_version) == ("openssl", "3.0.11-1~deb12u2")
    assert debs["tzdata"].source_name == "tzdata" and debs["tzdata"].arch == "all"
    assert debs["libc6"].purl == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
    assert debs["base-files"].path == "/var/lib/dpkg/status.d/distroless-pkg"


def test_apk_origin_license_and_purl(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    apks = by_name(_packages(tmp_path, analyzer_cases("apk"), Ecosystem.APK), Ecosystem.APK)
    assert apks["busybox-binsh"].source_name == "busybox"
    assert apks["musl"].licenses == ("MIT",)
    assert apks["musl"].purl == "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"


def test_rpm_epoch_source_rpm_license(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    for name in ("rpm-sqlite", "rpm-bdb", "rpm-ndb"):
        rpms = by_name(_packages(tmp_path, analyzer_cases(name), Ecosystem.RPM), Ecosystem.RPM)
        hello = rpms["moorage-hello"]
        assert hello.version == "2:1.2.3-4"
        assert (hello.source_name, hello.source_version) == ("moorage-hello", "2:1.2.3-4")
        assert hello.licenses == ("MIT",) and hello.arch == "noarch"
        assert hello.purl == "pkg:rpm/rocky/moorage-hello@1.2.3-4?arch=noarch&distro=rocky-9.3&epoch=2"
        assert rpms["moorage-world"].version == "0.9-1.el9"


def test_rpm_file_lists_are_reported_as_owned_paths(
    tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]
) -> None:
    from moorage.scanner.analyzers.interface import AnalysisContext
    from moorage.scanner.analyzers.rpm import RpmAnalyzer

    for name in ("rpm-sqlite", "rpm-bdb", "rpm-ndb"):
        result = analyze_layers(tmp_path, list(analyzer_cases(name).layers))
        owned = RpmAnalyzer().collect(result.view, AnalysisContext()).owned_paths
        assert owned == {"/usr/share/moorage-hello/hello.txt", "/usr/share/moorage-world/hello.txt"}


def test_language_package_owned_by_a_deb_is_not_reported_twice(tmp_path: Path) -> None:
    metadata = "/usr/lib/python3/dist-packages/yaml-6.0.dist-info/METADATA"
    layer = (
        LayerBuilder()
        .file("/etc/os-release", "ID=debian\nVERSION_ID=12\n")
        .file(
            "/var/lib/dpkg/status",
            "Package: python3-yaml\nStatus: install ok installed\nVersion: 6.0-3\nArchitecture: amd64\n",
        )
        .file("/var/lib/dpkg/info/python3-yaml.list", f"/usr\n{metadata}\n")
        .file(metadata, "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\n")
        .file(
            "/usr/local/lib/python3.11/site-packages/rich-13.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: rich\nVersion: 13.0\n",
        )
    )
    result = analyze_layers(tmp_path, [layer])
    assert {(p.ecosystem, p.name) for p in result.inventory.packages} == {
        (Ecosystem.DEB, "python3-yaml"),
        (Ecosystem.PYPI, "rich"),
    }


def test_python_licenses_and_normalised_purl(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    pypi = by_name(_packages(tmp_path, analyzer_cases("python"), Ecosystem.PYPI), Ecosystem.PYPI)
    assert pypi["moorage_demo"].licenses == ("MIT",)
    assert pypi["Other.Pkg"].purl == "pkg:pypi/other-pkg@0.3.1"
    assert pypi["legacy"].path == "/opt/app/legacy.egg-info/PKG-INFO"


def test_npm_nested_copies_are_separate_components(
    tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]
) -> None:
    npm = _packages(tmp_path, analyzer_cases("npm"), Ecosystem.NPM)
    copies = sorted((p.version, p.path) for p in npm if p.name == "c")
    assert copies == [
        ("1.0.0", "/srv/app/node_modules/c/package.json"),
        ("2.0.0", "/srv/app/node_modules/a/node_modules/c/package.json"),
    ]
    scoped = next(p for p in npm if p.name == "@moorage/scoped")
    assert scoped.namespace == "@moorage" and scoped.purl == "pkg:npm/%40moorage/scoped@0.1.0"
    assert next(p for p in npm if p.name == "left-pad").path == "/srv/other/yarn.lock"


def test_npm_lock_entries_without_node_modules_are_reported(tmp_path: Path) -> None:
    lock = (
        '{"lockfileVersion": 3, "packages": {"": {"name": "x"}, '
        '"node_modules/lodash": {"version": "4.17.21"},'
        ' "node_modules/jest": {"version": "29.0.0", "dev": true}}}'
    )
    pnpm = "lockfileVersion: '9.0'\npackages:\n  express@4.18.2:\n    resolution: {integrity: sha512-x}\n"
    layer = LayerBuilder().file("/app/package-lock.json", lock).file("/web/pnpm-lock.yaml", pnpm)
    result = analyze_layers(tmp_path, [layer])
    assert {(p.name, p.version) for p in result.inventory.packages} == {
        ("lodash", "4.17.21"),
        ("express", "4.18.2"),
    }


def test_go_replacement_stdlib_and_namespace(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    gos = by_name(_packages(tmp_path, analyzer_cases("go-binary"), Ecosystem.GOLANG), Ecosystem.GOLANG)
    assert gos["golang.org/x/text"].version == "v0.14.0", "the => replacement wins"
    assert gos["github.com/google/uuid"].purl == "pkg:golang/github.com/google/uuid@v1.6.0"
    assert gos["stdlib"].metadata["go"] == "go1.21.5"
    assert all(p.path == "/usr/local/bin/hello" for p in gos.values())


def test_real_debian_go_binary_reports_its_go_version(tmp_path: Path) -> None:
    binary = Path("/usr/bin/docker-registry")
    layer = LayerBuilder().file("/usr/bin/registry", binary.read_bytes(), mode=0o755)
    result = analyze_layers(tmp_path, [layer])
    stdlib = [p for p in result.inventory.packages if p.name == "stdlib"]
    assert len(stdlib) == 1 and stdlib[0].version.startswith("v1.")


def test_java_group_ids_are_declared_never_guessed(
    tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]
) -> None:
    jars = by_name(_packages(tmp_path, analyzer_cases("java-archive"), Ecosystem.MAVEN), Ecosystem.MAVEN)
    assert jars["guava"].namespace == "com.google.guava"
    assert jars["guava"].purl == "pkg:maven/com.google.guava/guava@32.1.3-jre"
    assert jars["plainlib"].namespace == "" and jars["commons-io"].namespace == ""
    assert jars["slf4j-api"].metadata["location"] == (
        "/opt/app/app.war!/WEB-INF/lib/fat.jar!/BOOT-INF/lib/slf4j-api-2.0.9.jar"
    )
    assert jars["guava"].path == "/opt/app/app.war"


def test_corrupt_nested_jar_does_not_hide_its_siblings(tmp_path: Path) -> None:
    war = jar_bytes(
        {
            "WEB-INF/lib/broken.jar": b"PK\x03\x04 not really",
            "WEB-INF/lib/ok.jar": jar_bytes({"META-INF/maven/g/ok/pom.properties": pom_properties("g", "ok", "1")}),
        }
    )
    result = analyze_layers(tmp_path, [LayerBuilder().file("/app.war", war)])
    assert [(p.namespace, p.name, p.version) for p in result.inventory.packages] == [("g", "ok", "1")]


def test_ruby_php_rust_details(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    rack = _packages(tmp_path, analyzer_cases("ruby"), Ecosystem.GEM)[0]
    assert rack.licenses == ("MIT",) and rack.purl == "pkg:gem/rack@3.0.8"
    php = by_name(_packages(tmp_path, analyzer_cases("composer"), Ecosystem.COMPOSER), Ecosystem.COMPOSER)
    assert php["monolog/monolog"].purl == "pkg:composer/monolog/monolog@3.5.0"
    assert php["monolog/monolog"].namespace == "monolog"
    crates = by_name(_packages(tmp_path, analyzer_cases("cargo-auditable"), Ecosystem.CARGO), Ecosystem.CARGO)
    assert crates["serde"].purl == "pkg:cargo/serde@1.0.193" and crates["serde"].metadata["source"] == "crates.io"


def test_jar_with_only_shaded_pom_properties_still_reports_itself(tmp_path: Path) -> None:
    shaded = jar_bytes(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nBundle-Version: 4.2.3\n",
            "META-INF/maven/cglib/cglib/pom.properties": pom_properties("cglib", "cglib", "3.2.12"),
        }
    )
    renamed = jar_bytes(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nImplementation-Version: 3.8.7\n",
            "META-INF/maven/org.apache.maven/maven-core/pom.properties": pom_properties(
                "org.apache.maven", "maven-core", "3.8.7"
            ),
        }
    )
    layer = LayerBuilder().file("/lib/guice-4.2.3.jar", shaded).file("/lib/maven3-core-3.8.7.jar", renamed)
    result = analyze_layers(tmp_path, [layer])
    assert {(p.namespace, p.name, p.version) for p in result.inventory.packages} == {
        ("", "guice", "4.2.3"),
        ("cglib", "cglib", "3.2.12"),
        ("org.apache.maven", "maven-core", "3.8.7"),
    }


def test_go_devel_main_module_takes_the_ldflags_version() -> None:
    from moorage.scanner.analyzers.golang import main_version

    main: dict[str, object] = {"path": "github.com/x/tool", "version": "(devel)"}
    assert main_version(main, {"-ldflags": "-s -w -X main.version=1.18.1 -X main.commit=abc"}) == "v1.18.1"  # type: ignore[arg-type]
    assert main_version(main, {"-ldflags": "-X github.com/x/tool/internal/version.Version=v2.0.0"}) == "v2.0.0"  # type: ignore[arg-type]
    assert main_version(main, {"-ldflags": "-s -w"}) == ""  # type: ignore[arg-type]
    assert main_version({"path": "p", "version": "v1.0.0"}, {}) == "v1.0.0"


def test_bdb_fixture_is_one_rpm_itself_can_read(tmp_path: Path, analyzer_cases: Callable[[str], AnalyzerCase]) -> None:
    """Debian's rpm reads Berkeley DB (bdb_ro) though it cannot write it: it vouches for the fixture."""
    import shutil
    import subprocess

    require_tool("rpm")
    bdb = analyzer_cases("rpm-sqlite").extra["bdb_file"]
    dbpath = tmp_path / "rpmdb"
    dbpath.mkdir()
    shutil.copy(bdb, dbpath / "Packages")  # type: ignore[arg-type]
    out = subprocess.run(
        [
            "rpm",
            "--dbpath",
            str(dbpath),
            "--define",
            "_db_backend bdb_ro",
            "-qa",
            "--qf",
            "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert sorted(out.split("\n")[:-1]) == ["moorage-hello 2:1.2.3-4", "moorage-world 0:0.9-1.el9"]


def test_lock_file_dialects(tmp_path: Path) -> None:
    v1 = (
        '{"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0", "dependencies": '
        '{"b": {"version": "2.0.0"}}}, "jest": {"version": "29.0.0", "dev": true}}}'
    )
    berry = (
        '__metadata:\n  version: 6\n\n"lodash@npm:^4.17.0":\n  version: 4.17.21\n'
        '  resolution: "lodash@npm:4.17.21"\n'
        '\n"app@workspace:.":\n  version: 0.0.0-use.local\n'
    )
    pnpm6 = "lockfileVersion: '6.0'\npackages:\n  /@babel/core@7.23.0:\n    dev: false\n  /ms@2.1.3:\n    dev: true\n"
    pnpm5 = "lockfileVersion: 5.4\npackages:\n  /debug/4.3.4_supports-color@8.1.1:\n    dev: false\n"
    layer = (
        LayerBuilder()
        .file("/v1/package-lock.json", v1)
        .file("/berry/yarn.lock", berry)
        .file("/p6/pnpm-lock.yaml", pnpm6)
        .file("/p5/pnpm-lock.yaml", pnpm5)
    )
    result = analyze_layers(tmp_path, [layer])
    assert {(p.name, p.version, p.path.split("/")[1]) for p in result.inventory.packages} == {
        ("a", "1.0.0", "v1"),
        ("b", "2.0.0", "v1"),
        ("lodash", "4.17.21", "berry"),
        ("@babel/core", "7.23.0", "p6"),
        ("debug", "4.3.4", "p5"),
    }


def test_gopath_build_main_module_from_path_and_version_stamp() -> None:
    from moorage.scanner.analyzers.golang import gopath_main_module

    flags = {"-ldflags": "-X github.com/docker/distribution/version.Version=v2.8.2+ds1"}
    assert gopath_main_module("github.com/docker/distribution/cmd/registry", flags) == "github.com/docker/distribution"
    assert gopath_main_module("github.com/other/tool/cmd/x", flags) == ""
    assert gopath_main_module("github.com/docker/distribution/cmd/registry", {}) == ""
