"""The advisory database: one SQLite file, written once by a build, then only read.

Layout (schema version ``SCHEMA_VERSION``)::

    meta          key -> value: schema_version, built_at, sources (JSON: kind, location, counts)
    advisory      id, source, record_id, body (JSON: aliases, summary, details, severity, cvss, refs)
    alias         alias -> advisory id            (look-ups by any id, for ``vulndb show``)
    affected      advisory id, scope, name, body (JSON: ecosystem, kind, ranges, versions, state)
                  indexed on (scope, name): the matcher's only hot query
    cve_metadata  CVE id -> body (JSON: description, cvss, references, published) from NVD
    scope         scope -> number of affected rows (which distributions / ecosystems it covers)

A build writes a new file next to the old one and renames it over (``builder``), so readers that
hold the old file open keep a consistent view; the reader opens the file read-only and
immutable, which lets SQLite skip locking.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from moorage.scanner.advisories.errors import StoreError
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    CveMetadata,
    affected_from_json,
    affected_to_json,
    cve_metadata_from_json,
    cve_metadata_to_json,
    record_header_from_json,
    record_header_to_json,
)

SCHEMA_VERSION = 1
"""Bumped whenever the layout or a body's meaning changes; a reader refuses other versions."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, record_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE alias (alias TEXT NOT NULL, advisory INTEGER NOT NULL);
CREATE TABLE affected (
    advisory INTEGER NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE cve_metadata (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE scope (scope TEXT PRIMARY KEY, affected INTEGER NOT NULL);
"""
_INDEXES = """
CREATE INDEX affected_by_package ON affected (scope, name);
CREATE INDEX alias_lookup ON alias (alias);
CREATE INDEX advisory_by_record ON advisory (record_id);
"""
_BATCH = 2000
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What one source contributed to a build."""

    kind: str
    """Importer kind (``osv``, ``debian``...)."""
    location: str
    """The path or URL it was read from (what ``vulndb update`` fetches again)."""
    records: int = 0
    """Advisory records stored."""
    cve_metadata: int = 0
    """NVD entries stored."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Things left out, per reason."""
    warnings: tuple[str, ...] = ()
    """The first few left-out items, for people."""
    fetched_at: str = ""
    """ISO 8601 time it was read."""
    error: str = ""
    """Why the source is missing from this database (it failed and the build went on without it);
    empty when it was read."""

    def to_json(self) -> dict[str, Any]:
        """JSON form kept in ``meta``."""
        return {
            "kind": self.kind,
            "location": self.location,
            "records": self.records,
            "cve_metadata": self.cve_metadata,
            "skipped": dict(self.skipped),
            "warnings": list(self.warnings),
            "fetched_at": self.fetched_at,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SourceSummary:
        """Inverse of ``to_json``."""
        return cls(
            kind=str(body["kind"]),
            location=str(body["location"]),
            records=int(body.get("records", 0)),
            cve_metadata=int(body.get("cve_metadata", 0)),
            skipped={str(k): int(v) for k, v in body.get("skipped", {}).items()},
            warnings=tuple(body.get("warnings", ())),
            fetched_at=str(body.get("fetched_at", "")),
            error=str(body.get("error", "")),
        )


@dataclass(frozen=True, slots=True)
class DatabaseInfo:
    """The database's metadata record and counts (what ``vulndb info`` shows)."""

    path: str
    schema_version: int
    built_at: str
    sources: tuple[SourceSummary, ...]
    advisories: int
    affected: int
    cve_metadata: int
    scopes: dict[str, int]
    """Affected rows per scope (``debian:12`` -> 123456)."""


@dataclass(frozen=True, slots=True)
class StoredAffected:
    """An affected-package row and the advisory it belongs to."""

    row_key: int
    """Row id of the affected row (stable within one database file; keys compiled-range caches)."""
    advisory_key: int
    """Row id of the advisory (for ``AdvisoryStore.advisories``)."""
    affected: AffectedPackage


@dataclass(frozen=True, slots=True)
class RawAffectedRow:
    """An affected row as stored: keys, scope, name, and the JSON body not yet decoded."""

    row_key: int
    advisory_key: int
    scope: str
    name: str
    body: str

    def decode(self) -> StoredAffected:
        """The row with its body decoded."""
        try:
            affected = affected_from_json(self.scope, self.name, json.loads(self.body))
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            raise StoreError(f"damaged advisory database: {error}") from error
        return StoredAffected(self.row_key, self.advisory_key, affected)


class AdvisoryStoreWriter:
    """Bulk-writes a new database file; ``finish`` adds indexes and the metadata record."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            raise StoreError(f"{path} already exists; a build writes a new file")
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
            # A journal in memory, not OFF: ``source`` rolls a failed source back to a savepoint. The
            # file is new, so only the few pages a source rewrites (the tables' last leaves) are journaled.
            self._db.executescript("PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF; PRAGMA page_size=8192;")
            self._db.executescript(_SCHEMA)
            self._db.execute("BEGIN")
        except sqlite3.Error as error:
            raise StoreError(f"cannot create {path}: {error}") from error
        self._path = path
        self._next_id = 1
        self._advisories: list[tuple[int, str, str, str]] = []
        self._aliases: list[tuple[str, int]] = []
        self._affected: list[tuple[int, str, str, str]] = []
        self._cves: list[tuple[str, str]] = []

    def add_record(self, record: AdvisoryRecord) -> None:
        """Queue one advisory record (written in batches)."""
        key = self._next_id
        self._next_id += 1
        self._advisories.append((key, record.source, record.id, json.dumps(record_header_to_json(record))))
        for alias in dict.fromkeys((record.id, *record.aliases)):
            self._aliases.append((alias, key))
        for affected in record.affected:
            body = json.dumps(affected_to_json(affected))
            self._affected.append((key, affected.scope, affected.name, body))
        if len(self._advisories) >= _BATCH:
            self._flush()

    def add_cve_metadata(self, metadata: CveMetadata) -> None:
        """Queue NVD facts about one CVE (a later entry for the same CVE replaces an earlier one)."""
        self._cves.append((metadata.id, json.dumps(cve_metadata_to_json(metadata))))
        if len(self._cves) >= _BATCH:
            self._flush()

    @contextmanager
    def source(self) -> Iterator[None]:
        """Records added inside are kept all together or, when the block raises, not at all: a
        source that fails halfway through its feed leaves nothing behind in the new database."""
        try:
            self._flush()
            self._db.execute("SAVEPOINT source")
        except sqlite3.Error as error:
            raise StoreError(f"cannot write {self._path}: {error}") from error
        first_id = self._next_id
        try:
            yield
            self._flush()
        except BaseException:
            self._advisories, self._aliases, self._affected, self._cves = [], [], [], []
            self._next_id = first_id
            self._db.execute("ROLLBACK TO source")
            self._db.execute("RELEASE source")
            raise
        self._db.execute("RELEASE source")

    def _flush(self) -> None:
        self._db.executemany("INSERT INTO advisory VALUES (?, ?, ?, ?)", self._advisories)
        self._db.executemany("INSERT INTO alias VALUES (?, ?)", self._aliases)
        self._db.executemany("INSERT INTO affected VALUES (?, ?, ?, ?)", self._affected)
        self._db.executemany("INSERT OR REPLACE INTO cve_metadata VALUES (?, ?)", self._cves)
        self._advisories, self._aliases, self._affected, self._cves = [], [], [], []

    def finish(self, *, built_at: str, sources: Sequence[SourceSummary]) -> None:
        """Write what is queued, the indexes, per-scope counts and the metadata record; close."""
        try:
            self._flush()
            for statement in filter(None, (line.strip() for line in _INDEXES.split(";"))):
                self._db.execute(statement)
            self._db.execute("INSERT INTO scope SELECT scope, count(*) FROM affected GROUP BY scope")
            meta = {
                "schema_version": str(SCHEMA_VERSION),
                "built_at": built_at,
                "sources": json.dumps([s.to_json() for s in sources]),
            }
            self._db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            self._db.execute("COMMIT")
            self._db.execute("ANALYZE")
        except sqlite3.Error as error:
            raise StoreError(f"cannot write {self._path}: {error}") from error
        finally:
            self._db.close()

    def abort(self) -> None:
        """Close without finishing (the caller removes the file)."""
        self._db.close()


class AdvisoryStore:
    """Read access to a finished database file."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise StoreError(f"no advisory database at {path} (build one with `moorage vulndb build`)")
        self.path = path
        uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as error:
            raise StoreError(f"{path} is not an advisory database: {error}") from error
        version = rows.get("schema_version", "")
        if version != str(SCHEMA_VERSION):
            self._db.close()
            raise StoreError(
                f"{path} has schema version {version or 'none'}; this moorage reads {SCHEMA_VERSION}, rebuild"
            )
        self._meta = rows
        self._scopes: dict[str, int] | None = None

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""
        self._db.close()

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: {error}") from error

    @property
    def built_at(self) -> str:
        """When the database was built (ISO 8601)."""
        return str(self._meta.get("built_at", ""))

    def sources(self) -> tuple[SourceSummary, ...]:
        """The sources it was built from, in build order."""
        return tuple(SourceSummary.from_json(s) for s in json.loads(self._meta.get("sources", "[]")))

    def scope_counts(self) -> dict[str, int]:
        """Affected rows per scope; a scope absent here has no advisories at all."""
        if self._scopes is None:
            self._scopes = dict(self._query("SELECT scope, affected FROM scope ORDER BY scope"))
        return self._scopes

    def info(self) -> DatabaseInfo:
        """Metadata record and counts."""
        (advisories,), (affected,), (cves,) = (
            self._query("SELECT count(*) FROM advisory")[0],
            self._query("SELECT count(*) FROM affected")[0],
            self._query("SELECT count(*) FROM cve_metadata")[0],
        )
        return DatabaseInfo(
            path=str(self.path),
            schema_version=SCHEMA_VERSION,
            built_at=self.built_at,
            sources=self.sources(),
            advisories=int(advisories),
            affected=int(affected),
            cve_metadata=int(cves),
            scopes=dict(self.scope_counts()),
        )

    def affected_rows(self, scope: str, names: Iterable[str]) -> list[RawAffectedRow]:
        """Every affected row for any of ``names`` in ``scope``, body still JSON text.

        The matcher decodes a body only the first time it meets the row (it keeps compiled rows
        across inventories), so re-matching pays for the indexed look-up alone.
        """
        unique = sorted(set(names))
        found: list[RawAffectedRow] = []
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT rowid, advisory, name, body FROM affected WHERE scope = ? AND name IN ({marks})",  # noqa: S608
                (scope, *chunk),
            )
            found.extend(RawAffectedRow(int(row_key), int(key), scope, name, body) for row_key, key, name, body in rows)
        return found

    def affected_for(self, scope: str, names: Iterable[str]) -> list[StoredAffected]:
        """Every affected row for any of ``names`` in ``scope`` (names already normalised)."""
        return [row.decode() for row in self.affected_rows(scope, names)]

    def advisories(self, keys: Iterable[int]) -> dict[int, AdvisoryRecord]:
        """Advisory headers (without affected packages) by row id."""
        unique = sorted(set(keys))
        found: dict[int, AdvisoryRecord] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, source, record_id, body FROM advisory WHERE id IN ({marks})"  # noqa: S608
            rows = self._query(sql, chunk)
            for key, source, record_id, body in rows:
                try:
                    found[int(key)] = record_header_from_json(source, record_id, json.loads(body))
                except ValueError as error:
                    raise StoreError(f"{self.path}: damaged advisory {record_id}: {error}") from error
        return found

    def cve_metadata(self, ids: Iterable[str]) -> dict[str, CveMetadata]:
        """NVD facts for those of ``ids`` that it has."""
        unique = sorted(set(ids))
        found: dict[str, CveMetadata] = {}
        for start in range(0, len(unique), _IN_CHUNK):
            chunk = unique[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT id, body FROM cve_metadata WHERE id IN ({marks})", chunk)  # noqa: S608
            for cve_id, body in rows:
                try:
                    found[cve_id] = cve_metadata_from_json(cve_id, json.loads(body))
                except ValueError as error:
                    raise StoreError(f"{self.path}: damaged NVD entry {cve_id}: {error}") from error
        return found

    def find(self, vulnerability_id: str) -> list[AdvisoryRecord]:
        """Every record whose id or alias is ``vulnerability_id``, with its affected packages."""
        rows = self._query("SELECT advisory FROM alias WHERE alias = ?", (vulnerability_id,))
        keys = [int(key) for (key,) in rows]
        headers = self.advisories(keys)
        records: list[AdvisoryRecord] = []
        for key in sorted(headers):
            rows = self._query("SELECT scope, name, body FROM affected WHERE advisory = ?", (key,))
            affected = tuple(RawAffectedRow(0, key, s, n, b).decode().affected for s, n, b in rows)
            records.append(dataclasses.replace(headers[key], affected=affected))
        return records

    def iter_records(self) -> Iterator[tuple[str, str]]:
        """(source, record id) of every advisory, in insertion order (for tests and exports)."""
        try:
            yield from self._db.execute("SELECT source, record_id FROM advisory ORDER BY id")
        except sqlite3.Error as error:
            raise StoreError(f"{self.path}: {error}") from error
