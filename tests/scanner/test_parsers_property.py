"""Property tests: arbitrary bytes never crash a parser; it parses or raises the scanner's own
ParseError. Structured inputs are checked against simple oracles where one exists."""

from __future__ import annotations

import contextlib
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.scanner.analyzers import default_analyzers
from moorage.scanner.analyzers.apk import parse_installed
from moorage.scanner.analyzers.dpkg import parse_status
from moorage.scanner.analyzers.os_release import parse_os_release
from moorage.scanner.analyzers.rpm_header import parse_header_blob
from moorage.scanner.analyzers.rpmdb import bdb_blobs, ndb_blobs, sqlite_blobs
from moorage.scanner.errors import ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.layers import normalize_path

# One path each analyzer wants, so extract() is driven with garbage exactly as the layer pass would.
WANTED_PATHS = {
    "os-release": "/etc/os-release",
    "dpkg": "/var/lib/dpkg/status",
    "apk": "/lib/apk/db/installed",
    "rpm": "/var/lib/rpm/rpmdb.sqlite",
    "python": "/usr/lib/python3/x-1.dist-info/METADATA",
    "npm": "/app/node_modules/x/package.json",
    "go-binary": "/usr/bin/x",
    "java-archive": "/app/x.jar",
    "ruby": "/gems/specifications/x-1.gemspec",
    "composer": "/app/vendor/composer/installed.json",
    "cargo-auditable": "/usr/bin/y",
}
EXTRA_PATHS = {
    "rpm": ["/var/lib/rpm/Packages", "/var/lib/rpm/Packages.db"],
    "npm": ["/app/package-lock.json", "/app/yarn.lock", "/app/pnpm-lock.yaml"],
    "dpkg": ["/var/lib/dpkg/info/x.list"],
}

PREFIXES = [
    b"",
    b"\x7fELF\x02\x01\x01",
    b"PK\x03\x04",
    b"SQLite format 3\x00",
    b"{",
    b"\xff Go buildinf:",
    b"Package: x\nVersion: ",
    b"P:x\nV:",
    b"RpmP\x00\x00\x00\x00",
]


@pytest.mark.parametrize("analyzer", default_analyzers(), ids=lambda a: a.name)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PREFIXES), tail=st.binary(max_size=600))
def test_extract_never_crashes(analyzer: object, prefix: bytes, tail: bytes) -> None:
    content = prefix + tail
    for path in [WANTED_PATHS[analyzer.name], *EXTRA_PATHS.get(analyzer.name, [])]:  # type: ignore[attr-defined]
        entry = FileEntry(path, FileKind.REGULAR, 4096, 0o755)  # header size; wants() ignores content
        assert analyzer.wants(entry)  # type: ignore[attr-defined]
        try:
            value = analyzer.extract(entry, content)  # type: ignore[attr-defined]
        except ParseError:
            continue
        json.dumps(value)


@given(st.binary(max_size=2000))
def test_rpm_database_readers_never_crash(data: bytes) -> None:
    for reader in (sqlite_blobs, bdb_blobs, ndb_blobs):
        with contextlib.suppress(ParseError):
            list(reader(data))


def _header(entries: list[tuple[int, int, bytes, int]]) -> bytes:
    index, store = b"", b""
    for tag, kind, data, count in entries:
        index += struct.pack(">iiii", tag, kind, len(store), count)
        store += data
    return struct.pack(">ii", len(entries), len(store)) + index + store


_WORD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@given(
    name=_WORD,
    version=_WORD,
    release=_WORD,
    epoch=st.none() | st.integers(0, 1000),
    files=st.lists(_WORD, max_size=5),
)
def test_rpm_header_against_oracle(name: str, version: str, release: str, epoch: int | None, files: list[str]) -> None:
    entries = [
        (1000, 6, name.encode() + b"\0", 1),
        (1001, 6, version.encode() + b"\0", 1),
        (1002, 6, release.encode() + b"\0", 1),
    ]
    if epoch is not None:
        entries.append((1003, 4, struct.pack(">i", epoch), 1))
    if files:
        entries += [
            (1118, 8, b"/d/\0", 1),
            (1117, 8, b"".join(f.encode() + b"\0" for f in files), len(files)),
            (1116, 4, struct.pack(f">{len(files)}i", *[0] * len(files)), len(files)),
        ]
    header = parse_header_blob(_header(entries))
    assert (header.name, header.version, header.release, header.epoch) == (name, version, release, epoch)
    assert header.files == tuple(f"/d/{f}" for f in files)


@given(st.binary(max_size=400))
def test_rpm_header_garbage(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_header_blob(data)


_FIELD = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"), min_size=1, max_size=15
)


@given(st.lists(st.tuples(_FIELD, _FIELD), min_size=1, max_size=10, unique_by=lambda t: t[0]))
def test_dpkg_status_against_oracle(packages: list[tuple[str, str]]) -> None:
    text = "\n".join(f"Package: {n}\nStatus: install ok installed\nVersion: {v}\n" for n, v in packages)
    assert [(s["Package"], s["Version"]) for s in parse_status(text)] == packages


@given(st.lists(st.tuples(_FIELD, _FIELD), min_size=1, max_size=10))
def test_apk_installed_against_oracle(packages: list[tuple[str, str]]) -> None:
    text = "\n".join(f"P:{n}\nV:{v}\nF:usr/lib\nR:{n}.so\n" for n, v in packages)
    parsed = parse_installed(text)
    assert [(r["P"], r["V"]) for r in parsed] == packages
    assert [r["files"] for r in parsed] == [[f"/usr/lib/{n}.so"] for n, _ in packages]


@given(
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Z_]{0,10}", fullmatch=True),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"\\$`'), max_size=20),
        max_size=6,
    )
)
def test_os_release_against_oracle(values: dict[str, str]) -> None:
    text = "\n".join(f'{k}="{v}"' for k, v in values.items())
    assert parse_os_release(text) == values


@given(st.text(max_size=200))
def test_normalize_path_stays_in_root(name: str) -> None:
    path = normalize_path(name)
    assert path.startswith("/") and "/../" not in path + "/" and not path.endswith("/..")
    assert normalize_path(path) == path


@given(st.text(alphabet="ab./\\", max_size=30))
def test_normalize_fast_path_matches_the_reference(name: str) -> None:
    from moorage.scanner.layers import normalize_path_slowly

    assert normalize_path(name) == normalize_path_slowly(name)
