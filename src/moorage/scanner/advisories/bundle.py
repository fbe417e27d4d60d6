"""Database bundles: one file that carries a built database to an air-gapped site.

A bundle is a tar archive with exactly two members, in this order::

    moorage-vulndb.json       manifest: format, schema version, built_at, sources, and the
                              database's uncompressed size and SHA-256
    advisories.sqlite.zst     the database file, zstd-compressed

Import checks the manifest (format and schema version), decompresses into a scratch file beside
the target with the declared size as a hard cap, verifies the SHA-256, opens the result as a
database and runs SQLite's ``quick_check``, and only then renames it into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Any

import zstandard

from moorage.scanner.advisories.errors import BundleError, StoreError
from moorage.scanner.advisories.store import SCHEMA_VERSION, AdvisoryStore, DatabaseInfo

BUNDLE_FORMAT = "moorage-vulndb-bundle"
BUNDLE_FORMAT_VERSION = 1
MANIFEST_NAME = "moorage-vulndb.json"
DATABASE_NAME = "advisories.sqlite.zst"
MAX_MANIFEST_BYTES = 1 << 20
MAX_DATABASE_BYTES = 32 << 30
"""Largest database a bundle may unpack to."""
_CHUNK = 1 << 20


def export_bundle(database: Path, bundle: Path, *, level: int = 10) -> dict[str, Any]:
    """Write ``database`` as a bundle at ``bundle``; returns the manifest."""
    with AdvisoryStore(database) as store:
        info = store.info()
    digest = hashlib.sha256()
    size = 0
    bundle.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=bundle.parent) as compressed:
        compressor = zstandard.ZstdCompressor(level=level, threads=-1)
        with database.open("rb") as source, compressor.stream_writer(compressed, closefd=False) as writer:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                writer.write(chunk)
        manifest = {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_FORMAT_VERSION,
            "schema_version": info.schema_version,
            "built_at": info.built_at,
            "sources": [s.to_json() for s in info.sources],
            "database": {"name": DATABASE_NAME, "size": size, "sha256": digest.hexdigest()},
        }
        manifest_bytes = json.dumps(manifest, indent=2).encode()
        partial = bundle.with_name(bundle.name + ".partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
            entry = tarfile.TarInfo(MANIFEST_NAME)
            entry.size = len(manifest_bytes)
            archive.addfile(entry, io.BytesIO(manifest_bytes))
            entry = tarfile.TarInfo(DATABASE_NAME)
            entry.size = compressed.tell()
            compressed.seek(0)
            archive.addfile(entry, compressed)
        os.replace(partial, bundle)
    return manifest


def _read_manifest(archive: tarfile.TarFile, bundle: Path) -> dict[str, Any]:
    member = archive.next()
    if member is None or member.name != MANIFEST_NAME or not member.isfile():
        raise BundleError(f"{bundle}: not a moorage vulnerability database bundle (no manifest first)")
    if member.size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{bundle}: manifest too large")
    stream = archive.extractfile(member)
    if stream is None:
        raise BundleError(f"{bundle}: unreadable manifest")
    try:
        manifest = json.loads(stream.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{bundle}: damaged manifest: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{bundle}: not a moorage vulnerability database bundle")
    if manifest.get("format_version") != BUNDLE_FORMAT_VERSION:
        raise BundleError(f"{bundle}: bundle format {manifest.get('format_version')} is not supported")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"{bundle}: database schema {manifest.get('schema_version')}, this moorage reads {SCHEMA_VERSION}"
        )
    database = manifest.get("database")
    if not isinstance(database, dict) or not isinstance(database.get("size"), int):
        raise BundleError(f"{bundle}: manifest lacks the database's size and checksum")
    if not 0 < database["size"] <= MAX_DATABASE_BYTES or not isinstance(database.get("sha256"), str):
        raise BundleError(f"{bundle}: manifest declares an impossible database size or no checksum")
    return manifest


def _unpack_database(archive: tarfile.TarFile, bundle: Path, target: Path, declared: dict[str, Any]) -> None:
    member = archive.next()
    if member is None or member.name != DATABASE_NAME or not member.isfile():
        raise BundleError(f"{bundle}: the database member is missing")
    stream = archive.extractfile(member)
    if stream is None:
        raise BundleError(f"{bundle}: unreadable database member")
    limit = int(declared["size"])
    digest = hashlib.sha256()
    written = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(stream)
        with target.open("wb") as out:
            while chunk := reader.read(_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise BundleError(f"{bundle}: database larger than its manifest declares")
                digest.update(chunk)
                out.write(chunk)
    except zstandard.ZstdError as error:
        raise BundleError(f"{bundle}: damaged database data: {error}") from error
    if written != limit or digest.hexdigest() != declared["sha256"]:
        raise BundleError(f"{bundle}: database checksum mismatch (damaged or altered bundle)")


def import_bundle(bundle: Path, database: Path) -> DatabaseInfo:
    """Install the database carried by ``bundle`` at ``database`` (replacing any old one)."""
    if not bundle.is_file():
        raise BundleError(f"{bundle}: no such file")
    database = database.expanduser()
    database.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch_name = tempfile.mkstemp(prefix=".vulndb-import-", dir=database.parent)
    os.close(handle)
    scratch = Path(scratch_name)
    try:
        try:
            with tarfile.open(bundle, "r:") as archive:
                manifest = _read_manifest(archive, bundle)
                _unpack_database(archive, bundle, scratch, manifest["database"])
        except tarfile.TarError as error:
            raise BundleError(f"{bundle}: not a readable bundle: {error}") from error
        try:
            with AdvisoryStore(scratch) as store:
                store.info()
            with closing(sqlite3.connect(f"file:{scratch}?mode=ro", uri=True)) as check:
                result = check.execute("PRAGMA quick_check").fetchone()
            if not result or result[0] != "ok":
                raise BundleError(f"{bundle}: database fails SQLite's integrity check")
        except (StoreError, sqlite3.Error) as error:
            raise BundleError(f"{bundle}: carried database is unusable: {error}") from error
        os.replace(scratch, database)
    finally:
        scratch.unlink(missing_ok=True)
    with AdvisoryStore(database) as store:
        return store.info()
