"""Per-analyzer fixtures, built by the tests themselves with real tools where they exist here:
pip (installed wheels), npm (installed tree and lock), objcopy (Go build info and cargo-auditable
sections in real ELF files); hand-written dpkg, apk, gemspec and composer files; jars made with
zipfile. RPM databases are in rpm_fixtures.py."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.scanner.imagebuild import LayerBuilder
from tests.support.tools import require_tool

DPKG_STATUS = """Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 continuation line

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2+b1

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 0.1-1

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
"""

APK_INSTALLED = """C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1
R:libc.musl-x86_64.so.1

C:Q1def=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox
F:bin
R:sh
"""

GEMSPEC = """# -*- encoding: utf-8 -*-
Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "3.0.8"
  s.licenses = ["MIT".freeze]
end
"""

COMPOSER_INSTALLED = {
    "packages": [
        {"name": "monolog/monolog", "version": "3.5.0", "license": ["MIT"]},
        {"name": "symfony/console", "version": "v6.4.1", "license": ["MIT"]},
    ],
    "dev": True,
}


@dataclass
class AnalyzerCase:
    """Layers that hold packages of one ecosystem and the (name, version) pairs expected."""

    analyzer: str
    layers: list[LayerBuilder]
    expected: set[tuple[str, str]]
    extra: dict[str, object] = field(default_factory=dict)


def dpkg_case() -> AnalyzerCase:
    layer = (
        LayerBuilder()
        .file("/etc/os-release", 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
        .file("/var/lib/dpkg/status", DPKG_STATUS)
        .file("/var/lib/dpkg/info/libc6:amd64.list", "/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n")
        .file(
            "/var/lib/dpkg/status.d/distroless-pkg",
            "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        )
        .file("/var/lib/dpkg/status.d/distroless-pkg.md5sums", "abc  /etc/x\n")
    )
    return AnalyzerCase(
        "dpkg",
        [layer],
        {
            ("libc6", "2.36-9+deb12u4"),
            ("libssl3", "3.0.11-1~deb12u2+b1"),
            ("tzdata", "2024a-0+deb12u1"),
            ("base-files", "12.4+deb12u5"),
        },
    )


def apk_case() -> AnalyzerCase:
    layer = (
        LayerBuilder()
        .file("/etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
        .file("/lib/apk/db/installed", APK_INSTALLED)
    )
    return AnalyzerCase("apk", [layer], {("musl", "1.2.4-r2"), ("busybox-binsh", "1.36.1-r15")})


def build_wheel(work: Path, name: str, version: str, license_expression: str) -> Path:
    """A minimal pure-Python wheel."""
    dist = f"{name}-{version}.dist-info"
    wheel = work / f"{name}-{version}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": "VALUE = 1\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
        f"License-Expression: {license_expression}\n\nLong description.\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: moorage-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{dist}/RECORD", record)
    return wheel


def pip_case(work: Path) -> AnalyzerCase:
    """pip-installed wheels under /usr/local/lib/python3.11/site-packages, plus an egg-info."""
    wheels = [
        build_wheel(work, "moorage_demo", "1.4.0", "MIT"),
        build_wheel(work, "Other.Pkg", "0.3.1", "Apache-2.0"),
    ]
    target = work / "site-packages"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *map(str, wheels),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    layer = LayerBuilder().tree(target, "/usr/local/lib/python3.11/site-packages")
    layer.file(
        "/opt/app/legacy.egg-info/PKG-INFO",
        "Metadata-Version: 1.1\nName: legacy\nVersion: 0.1\nLicense: BSD\n",
    )
    return AnalyzerCase("python", [layer], {("moorage_demo", "1.4.0"), ("Other.Pkg", "0.3.1"), ("legacy", "0.1")})


def npm_case(work: Path) -> AnalyzerCase:
    """``npm install --install-links`` of local packages, plus a nested copy of ``c`` under ``a``."""
    require_tool("npm")
    pkgs = work / "pkgs"
    specs = {
        "a": {"name": "a", "version": "1.0.0", "license": "MIT"},
        "c1": {"name": "c", "version": "1.0.0", "license": "ISC"},
        "c2": {"name": "c", "version": "2.0.0", "license": "ISC"},
        "scoped": {"name": "@moorage/scoped", "version": "0.1.0"},
    }
    for directory, spec in specs.items():
        (pkgs / directory).mkdir(parents=True)
        (pkgs / directory / "package.json").write_text(json.dumps(spec))
        (pkgs / directory / "index.js").write_text("module.exports = 1;\n")
    app = work / "app"
    app.mkdir()
    (app / "package.json").write_text(
        json.dumps(
            {
                "name": "app",
                "version": "1.0.0",
                "dependencies": {
                    "a": "file:../pkgs/a",
                    "c": "file:../pkgs/c1",
                    "@moorage/scoped": "file:../pkgs/scoped",
                },
            }
        )
    )
    subprocess.run(
        [
            "npm",
            "install",
            "--install-links",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--cache",
            str(work / "npm-cache"),
        ],
        cwd=app,
        check=True,
        capture_output=True,
        timeout=180,
    )
    # a second, nested copy of "c": installed by npm into a's own node_modules
    subprocess.run(
        [
            "npm",
            "install",
            "--install-links",
            "--offline",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--no-package-lock",
            "--cache",
            str(work / "npm-cache"),
            str(pkgs / "c2"),
        ],
        cwd=app / "node_modules" / "a",
        check=True,
        capture_output=True,
        timeout=180,
    )
    layer = LayerBuilder().tree(app, "/srv/app")
    lock_only = LayerBuilder().file(
        "/srv/other/yarn.lock",
        '# yarn lockfile v1\n\n"left-pad@^1.3.0":\n'
        '  version "1.3.0"\n  resolved "https://example.invalid/left-pad.tgz"\n',
    )
    return AnalyzerCase(
        "npm",
        [layer, lock_only],
        {("a", "1.0.0"), ("c", "1.0.0"), ("c", "2.0.0"), ("@moorage/scoped", "0.1.0"), ("left-pad", "1.3.0")},
    )


def go_buildinfo_blob(version: str, modinfo: str) -> bytes:
    """A Go 1.18+ ``.go.buildinfo`` section: magic, pointer size, flags (inline strings), varints."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    sentinel = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
    info = sentinel + modinfo.encode() + bytes.fromhex("f932433186182072008242104116d8f2")
    header = b"\xff Go buildinf:" + bytes([8, 2]) + b"\x00" * 16
    return header + varint(len(version)) + version.encode() + varint(len(info)) + info


GO_MODINFO = (
    "path\texample.com/moorage/hello\nmod\texample.com/moorage/hello\tv1.5.0\th1:abc=\n"
    "dep\tgithub.com/google/uuid\tv1.6.0\th1:def=\n"
    "dep\tgolang.org/x/text\tv0.3.0\th1:ghi=\n=>\tgolang.org/x/text\tv0.14.0\th1:jkl=\n"
    "build\t-compiler=gc\nbuild\tGOOS=linux\n"
)


def elf_with_section(work: Path, name: str, section: str, data: bytes) -> Path:
    """A copy of /bin/true with an extra section (objcopy)."""
    require_tool("objcopy")
    blob = work / f"{name}.section"
    blob.write_bytes(data)
    out = work / name
    subprocess.run(
        [
            "objcopy",
            "--add-section",
            f"{section}={blob}",
            "--set-section-flags",
            f"{section}=alloc,readonly,data",
            shutil.which("true") or "/bin/true",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out


def go_case(work: Path) -> AnalyzerCase:
    binary = elf_with_section(work, "hello", ".go.buildinfo", go_buildinfo_blob("go1.21.5", GO_MODINFO))
    layer = LayerBuilder().file("/usr/local/bin/hello", binary.read_bytes(), mode=0o755)
    layer.file("/usr/local/bin/not-go", Path("/bin/true").read_bytes(), mode=0o755)
    return AnalyzerCase(
        "go-binary",
        [layer],
        {
            ("example.com/moorage/hello", "v1.5.0"),
            ("github.com/google/uuid", "v1.6.0"),
            ("golang.org/x/text", "v0.14.0"),
            ("stdlib", "v1.21.5"),
        },
    )


def rust_case(work: Path) -> AnalyzerCase:
    audit = {
        "packages": [
            {"name": "myapp", "version": "0.1.0", "source": "local", "root": True, "dependencies": [1, 2]},
            {"name": "serde", "version": "1.0.193", "source": "crates.io"},
            {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
            {"name": "libc", "version": "0.2.150", "source": "crates.io", "kind": "runtime"},
        ]
    }
    binary = elf_with_section(work, "myapp", ".dep-v0", zlib.compress(json.dumps(audit).encode()))
    layer = LayerBuilder().file("/usr/bin/myapp", binary.read_bytes(), mode=0o755)
    return AnalyzerCase("cargo-auditable", [layer], {("serde", "1.0.193"), ("libc", "0.2.150")})


def jar_bytes(entries: dict[str, bytes | str]) -> bytes:
    """A zip (jar) with the given members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def pom_properties(group: str, artifact: str, version: str) -> str:
    return f"#Generated by Maven\ngroupId={group}\nartifactId={artifact}\nversion={version}\n"


def java_case() -> AnalyzerCase:
    guava = jar_bytes(
        {
            "META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
            "META-INF/maven/com.google.guava/guava/pom.properties": pom_properties(
                "com.google.guava", "guava", "32.1.3-jre"
            ),
        }
    )
    no_maven = jar_bytes(
        {"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nImplementation-Title: plainlib\nImplementation-Version: 4.2\n"}
    )
    inner_most = jar_bytes(
        {"META-INF/maven/org.slf4j/slf4j-api/pom.properties": pom_properties("org.slf4j", "slf4j-api", "2.0.9")}
    )
    fat = jar_bytes(
        {
            "META-INF/maven/com.example/fat/pom.properties": pom_properties("com.example", "fat", "1.0"),
            "BOOT-INF/lib/slf4j-api-2.0.9.jar": inner_most,
        }
    )
    war = jar_bytes(
        {
            "WEB-INF/lib/guava-32.1.3-jre.jar": guava,
            "WEB-INF/lib/plainlib.jar": no_maven,
            "WEB-INF/lib/fat.jar": fat,
            "WEB-INF/web.xml": "<web-app/>",
        }
    )
    layer = (
        LayerBuilder()
        .file("/opt/app/app.war", war)
        .file("/opt/lib/commons-io-2.15.0.jar", jar_bytes({"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"}))
    )
    return AnalyzerCase(
        "java-archive",
        [layer],
        {
            ("guava", "32.1.3-jre"),
            ("plainlib", "4.2"),
            ("fat", "1.0"),
            ("slf4j-api", "2.0.9"),
            ("commons-io", "2.15.0"),
        },
    )


def ruby_case() -> AnalyzerCase:
    layer = LayerBuilder().file("/usr/local/bundle/specifications/rack-3.0.8.gemspec", GEMSPEC)
    return AnalyzerCase("ruby", [layer], {("rack", "3.0.8")})


def php_case() -> AnalyzerCase:
    layer = LayerBuilder().file("/var/www/vendor/composer/installed.json", json.dumps(COMPOSER_INSTALLED))
    return AnalyzerCase("composer", [layer], {("monolog/monolog", "3.5.0"), ("symfony/console", "6.4.1")})


def os_case() -> AnalyzerCase:
    layer = LayerBuilder().file("/etc/os-release", 'ID=rocky\nVERSION_ID="9.3"\nID_LIKE="rhel centos fedora"\n')
    return AnalyzerCase("os-release", [layer], set(), {"distro": ("rocky", "9.3")})
