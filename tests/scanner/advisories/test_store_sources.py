"""Building, updating and moving the advisory database: store, sources over HTTP, bundles."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from moorage.scanner.advisories.builder import build_database, update_database
from moorage.scanner.advisories.bundle import DATABASE_NAME, MANIFEST_NAME, export_bundle, import_bundle
from moorage.scanner.advisories.errors import BundleError, SourceFetchError, SourceSpecError, StoreError
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from tests.scanner.advisories.feedwriters import nvd_feed, osv_record, write_alpine_secdb, write_osv_dir
from tests.support.servers import free_port


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Python's static file server on a free loopback port, stopped by its process id."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("static file server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _osv_feed(directory: Path, fixed: str = "1.5") -> Path:
    return write_osv_dir(
        directory,
        [
            osv_record("PYSEC-1", package="alpha", events=[{"introduced": "0"}, {"fixed": fixed}], aliases=["CVE-1"]),
            osv_record("PYSEC-2", package="beta", events=[{"introduced": "1.0"}]),
        ],
    )


def test_build_records_metadata_and_counts(tmp_path: Path) -> None:
    osv = _osv_feed(tmp_path / "osv")
    alpine = write_alpine_secdb(tmp_path / "alpine" / "main.json", "v3.19", {"zlib": {"1.3.1-r0": ["CVE-2023-45853"]}})
    nvd = tmp_path / "nvd.json"
    nvd.write_text(json.dumps(nvd_feed([{"id": "CVE-2023-45853", "description": "zlib overflow"}])))
    database = tmp_path / "db" / "advisories.sqlite"
    info = build_database(
        [parse_source(f"osv:{osv}"), parse_source(f"alpine:{alpine}"), parse_source(f"nvd:{nvd}")], database
    )
    assert (info.advisories, info.affected, info.cve_metadata) == (3, 3, 1)
    assert info.scopes == {"alpine:3.19": 1, "pypi": 2}
    assert [s.kind for s in info.sources] == ["osv", "alpine", "nvd"]
    assert info.sources[0].records == 2 and info.sources[2].cve_metadata == 1
    assert info.built_at.endswith("Z")
    assert sorted(p.name for p in database.parent.iterdir()) == ["advisories.sqlite"], "no scratch files left"
    with AdvisoryStore(database) as store:
        assert [r.id for r in store.find("CVE-1")] == ["PYSEC-1"]
        assert store.cve_metadata(["CVE-2023-45853", "CVE-0"])["CVE-2023-45853"].description == "zlib overflow"
        rows = store.affected_for("pypi", ["alpha", "gamma"])
        assert [(r.affected.name, r.affected.ranges[0].events[-1].version) for r in rows] == [("alpha", "1.5")]


@pytest.mark.parametrize(
    ("text", "message"),
    [("osv", "KIND:PATH_OR_URL"), ("osv:", "KIND:PATH_OR_URL"), ("trivy:/x", "unknown source kind")],
)
def test_bad_source_specs(text: str, message: str) -> None:
    with pytest.raises(SourceSpecError, match=message):
        parse_source(text)


def test_file_url_and_missing_paths(tmp_path: Path) -> None:
    assert parse_source(f"osv:file://{tmp_path}/a%20b").location == f"{tmp_path}/a b"
    with pytest.raises(SourceFetchError, match="no such file"):
        build_database([parse_source(f"osv:{tmp_path}/missing")], tmp_path / "db.sqlite")
    assert not (tmp_path / "db.sqlite").exists()


def test_store_refuses_foreign_and_other_schema_files(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no advisory database"):
        AdvisoryStore(tmp_path / "none.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not an advisory database"):
        AdvisoryStore(junk)
    database = tmp_path / "db.sqlite"
    build_database([parse_source(f"osv:{_osv_feed(tmp_path / 'osv')}")], database)
    with sqlite3.connect(database) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StoreError, match="schema version 999"):
        AdvisoryStore(database)


def _zip_feed(directory: Path, target: Path) -> None:
    import zipfile

    with zipfile.ZipFile(target, "w") as archive:
        for path in directory.iterdir():
            archive.write(path, path.name)


def test_update_downloads_configured_sources_again(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    _zip_feed(_osv_feed(tmp_path / "v1", fixed="1.5"), served / "PyPI.zip")
    database = tmp_path / "advisories.sqlite"
    with serve_directory(served) as base_url:
        info = build_database([parse_source(f"osv:{base_url}/PyPI.zip")], database)
        assert info.sources[0].location == f"{base_url}/PyPI.zip"
        with AdvisoryStore(database) as store:
            assert store.find("PYSEC-1")[0].affected[0].ranges[0].events[-1].version == "1.5"
        _zip_feed(_osv_feed(tmp_path / "v2", fixed="1.6"), served / "PyPI.zip")
        with AdvisoryStore(database) as reader_before_update:
            updated = update_database(database)
            # A reader that opened the old file keeps its consistent view.
            assert reader_before_update.find("PYSEC-1")[0].affected[0].ranges[0].events[-1].version == "1.5"
        assert updated.built_at >= info.built_at
        with AdvisoryStore(database) as store:
            assert store.find("PYSEC-1")[0].affected[0].ranges[0].events[-1].version == "1.6"
        (served / "PyPI.zip").unlink()
        with pytest.raises(SourceFetchError, match="HTTP 404"):
            update_database(database)
    with AdvisoryStore(database) as store:
        assert store.find("PYSEC-1"), "a failed update leaves the previous database in place"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".vulndb")) == []


def test_bundle_round_trip(tmp_path: Path) -> None:
    database = tmp_path / "site-a" / "advisories.sqlite"
    built = build_database([parse_source(f"osv:{_osv_feed(tmp_path / 'osv')}")], database)
    bundle = tmp_path / "transfer" / "vulndb.bundle"
    manifest = export_bundle(database, bundle)
    assert manifest["schema_version"] == built.schema_version
    target = tmp_path / "site-b" / "advisories.sqlite"
    imported = import_bundle(bundle, target)
    assert (imported.advisories, imported.built_at, imported.sources) == (
        built.advisories,
        built.built_at,
        built.sources,
    )
    assert target.read_bytes() == database.read_bytes()


def _rewrite_bundle(bundle: Path, target: Path, *, manifest_edit: object = None, data_edit: object = None) -> Path:
    with tarfile.open(bundle) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    manifest = json.loads(members[MANIFEST_NAME])
    if callable(manifest_edit):
        manifest_edit(manifest)
    data = members[DATABASE_NAME]
    if callable(data_edit):
        data = data_edit(data)
    with tarfile.open(target, "w") as archive:
        for name, content in ((MANIFEST_NAME, json.dumps(manifest).encode()), (DATABASE_NAME, data)):
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            archive.addfile(entry, io.BytesIO(content))
    return target


def test_damaged_or_foreign_bundles_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "advisories.sqlite"
    build_database([parse_source(f"osv:{_osv_feed(tmp_path / 'osv')}")], database)
    bundle = tmp_path / "good.bundle"
    export_bundle(database, bundle)
    target = tmp_path / "site" / "advisories.sqlite"
    target.parent.mkdir()
    target.write_bytes(b"previous database")

    def other_schema(manifest: dict[str, object]) -> None:
        manifest["schema_version"] = 999

    def other_checksum(manifest: dict[str, object]) -> None:
        manifest["database"]["sha256"] = "0" * 64  # type: ignore[index]

    def larger(manifest: dict[str, object]) -> None:
        manifest["database"]["size"] = 10  # type: ignore[index]

    cases = {
        "other schema": _rewrite_bundle(bundle, tmp_path / "a.bundle", manifest_edit=other_schema),
        "checksum": _rewrite_bundle(bundle, tmp_path / "b.bundle", manifest_edit=other_checksum),
        "larger": _rewrite_bundle(bundle, tmp_path / "c.bundle", manifest_edit=larger),
        "damaged data": _rewrite_bundle(bundle, tmp_path / "d.bundle", data_edit=lambda d: d[:-40] + b"\0" * 40),
    }
    not_tar = tmp_path / "e.bundle"
    not_tar.write_bytes(b"hello")
    cases["not a tar"] = not_tar
    for label, path in cases.items():
        with pytest.raises(BundleError):
            import_bundle(path, target)
        assert target.read_bytes() == b"previous database", label
    assert sorted(p.name for p in target.parent.iterdir()) == ["advisories.sqlite"]
