"""Builds and updates from URL sources served on loopback: a source that fails is left out whole
when it may fail, a refresh never loses a source the installed database holds, Red Hat's
``archive_latest.txt`` pointer is followed, and the real snapshots (where present) go through the
download path too."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from moorage.scanner.advisories.builder import build_database, update_database
from moorage.scanner.advisories.errors import FeedFormatError, SourceFetchError
from moorage.scanner.advisories.sources import parse_source
from moorage.scanner.advisories.store import AdvisoryStore
from tests.scanner.advisories.feedwriters import (
    alpine_secdb_json,
    csaf_vex,
    csaf_vex_archive,
    osv_record,
    osv_zip,
)
from tests.support.feed_server import FeedServer, feed_server

REQUESTS = osv_record("GHSA-good-0001-0001", package="requests", events=[{"introduced": "0"}, {"fixed": "2.31.0"}])
CURL = {"curl": {"8.5.0-r0": ["CVE-2023-46218"]}}


def _damaged_zip(records: int) -> bytes:
    """An OSV zip whose last member fails its CRC check after ``records`` good records: more than
    one write batch (2,000), so some of the source is already in the new database file when it fails."""
    good = [osv_record(f"PYSEC-2099-{n}", package=f"pkg{n}", events=[{"introduced": "0"}]) for n in range(records)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for record in good:
            archive.writestr(f"{record['id']}.json", json.dumps(record))
        archive.writestr("zz-last.json", json.dumps(osv_record("PYSEC-2099-LAST", package="last")))
    data = bytearray(buffer.getvalue())
    marker = data.rindex(b"PYSEC-2099-LAST")
    data[marker] ^= 0xFF  # inside the last member's stored bytes: its CRC no longer matches
    return bytes(data)


def _sources(server: FeedServer, *paths: str) -> list[str]:
    kinds = {"osv": "osv", "secdb": "alpine", "vex": "redhat"}
    return [f"{kinds[path.split('/')[1]]}:{server.url(path)}" for path in paths]


def test_a_source_that_may_fail_is_left_out_whole(tmp_path: Path) -> None:
    files = {"/osv/good.zip": osv_zip([REQUESTS]), "/osv/damaged.zip": _damaged_zip(2100)}
    database = tmp_path / "vulndb.sqlite"
    with feed_server(files) as server:
        good, damaged = (parse_source(s) for s in _sources(server, "/osv/good.zip", "/osv/damaged.zip"))
        with pytest.raises(FeedFormatError, match="damaged"):
            build_database([good, damaged], database)
        assert not database.exists(), "a failed build installs nothing"
        assert list(tmp_path.iterdir()) == [], "and leaves no scratch files"

        info = build_database([good, damaged], database, may_fail=[str(damaged)])
    assert info.advisories == 1 and info.scopes == {"pypi": 1}
    first, second = info.sources
    assert (first.records, first.error) == (1, "")
    assert second.records == 0 and "damaged" in second.error
    with AdvisoryStore(database) as store:
        assert list(store.iter_records()) == [("osv", "GHSA-good-0001-0001")]
        assert store.find("PYSEC-2099-1") == [], "the failed source's first 2,000 records were rolled back"


def test_an_update_never_loses_a_source_the_database_holds(tmp_path: Path) -> None:
    files = {"/osv/PyPI/all.zip": osv_zip([REQUESTS]), "/secdb/v3.19/main.json": alpine_secdb_json("v3.19", CURL)}
    database = tmp_path / "vulndb.sqlite"
    with feed_server(files) as server:
        osv, secdb, missing = (
            parse_source(s) for s in _sources(server, "/osv/PyPI/all.zip", "/secdb/v3.19/main.json", "/osv/Go/all.zip")
        )
        first = update_database(database, sources=[osv, secdb])  # no database yet: built from what is given
        assert first.scopes == {"alpine:3.19": 1, "pypi": 1}
        before = database.stat()

        server.statuses["/osv/PyPI/all.zip"] = 500
        with pytest.raises(SourceFetchError, match="HTTP 500"):
            update_database(database)  # the recorded sources; one the database holds fails
        after = database.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), "old database kept"

        del server.statuses["/osv/PyPI/all.zip"]
        widened = update_database(database, sources=[osv, secdb, missing])  # a new source may fail (404)
        assert widened.scopes == {"alpine:3.19": 1, "pypi": 1}
        assert [s.error for s in widened.sources][:2] == ["", ""]
        assert "HTTP 404" in widened.sources[2].error

        server.statuses.update({"/osv/PyPI/all.zip": 503, "/secdb/v3.19/main.json": 503})
        database.unlink()
        with pytest.raises(SourceFetchError, match="all 3 sources failed"):
            update_database(database, sources=[osv, secdb, missing])
        assert not database.exists()
        assert server.count("/osv/PyPI/all.zip") == 4


def test_the_newest_red_hat_archive_is_found_through_its_pointer(tmp_path: Path) -> None:
    archive = csaf_vex_archive(
        [csaf_vex("CVE-2026-1000", fixed=[("BaseOS-9.4.0.Z.MAIN", "bash-5.1.8-9.el9.src", "RHSA-2026:1")])]
    )
    files = {"/vex/archive_latest.txt": b"csaf_vex_2026-11-01.tar.zst\n", "/vex/csaf_vex_2026-11-01.tar.zst": archive}
    with feed_server(files) as server:
        info = build_database(
            [parse_source(s) for s in _sources(server, "/vex/archive_latest.txt")], tmp_path / "vulndb.sqlite"
        )
        assert server.requests == ["/vex/archive_latest.txt", "/vex/csaf_vex_2026-11-01.tar.zst"]
    assert info.advisories == 1 and "rhel:9" in info.scopes
    assert info.sources[0].location.endswith("/vex/archive_latest.txt"), "the pointer is what update follows again"

    files["/vex/archive_latest.txt"] = b"../../etc/passwd\n"
    with feed_server(files) as server, pytest.raises(SourceFetchError, match="does not name an archive"):
        build_database(
            [parse_source(s) for s in _sources(server, "/vex/archive_latest.txt")], tmp_path / "other.sqlite"
        )


def _shared_advisories() -> Path | None:
    """``shared/data/advisories`` beside the repository or a directory above it (never in it)."""
    for parent in Path(__file__).resolve().parents[4:]:
        candidate = parent / "shared" / "data" / "advisories"
        if candidate.is_dir():
            return candidate
    return None


SHARED = _shared_advisories()


@pytest.mark.skipif(SHARED is None, reason="the shared advisory snapshots (shared/data/advisories) are not here")
def test_real_snapshots_over_http(tmp_path: Path) -> None:
    assert SHARED is not None
    go = SHARED / "golang-vulndb" / "data" / "osv"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(go.glob("*.json")):
            archive.write(path, path.name)
    files = {
        "/osv/Go/all.zip": buffer.getvalue(),
        "/secdb/v3.11/main.yaml": (SHARED / "alpine-secdb" / "v3.11" / "main.yaml").read_bytes(),
    }
    with feed_server(files) as server:
        info = update_database(tmp_path / "vulndb.sqlite", sources=[parse_source(s) for s in _sources(server, *files)])
    golang, alpine = info.sources
    assert golang.records > 4_000 and golang.skipped["withdrawn"] >= 10
    assert alpine.records > 1_000 and info.scopes["alpine:3.11"] > 1_000
    assert not golang.error and not alpine.error
