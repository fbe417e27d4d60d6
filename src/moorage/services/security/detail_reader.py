"""Reading what a scan left behind, for the detail queries: the stored report's parts (advisory
text and links of its vulnerabilities, the distribution, the layers, the packages), the image's
final file list and password policy rebuilt from the layer cache, and the package rows indexed
from reports (``security_packages``).

Parsed parts are kept per process for a few hundred images, keyed by (digest, result version),
so a rescan or re-match is never served stale; all of it is safe to lose. File lists and the
password policy need the layer cache (``MOORAGE_SCANNER__LAYER_CACHE`` ``database``, the default,
or ``directory``): with ``memory`` or ``none`` the API process has no file lists to read, and those
queries answer nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from moorage.domain.security_findings import PackageRecord
from moorage.metadata.database import Database
from moorage.metadata.queries import security_details as details_q
from moorage.metadata.queries import security_packages as packages_q
from moorage.metadata.queries import security_results as results_q
from moorage.scanner.cache.interface import LayerCache
from moorage.scanner.files import FileKind
from moorage.scanner.flatten import FlatView
from moorage.services.security.password_policy import (
    PasswordComplexity,
    PasswordPolicyPlugin,
    ShadowAccount,
    shadow_accounts,
)
from moorage.services.security.password_policy import evaluate as evaluate_policy

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
REPORT_ENTRIES = 256
FILE_LIST_ENTRIES = 32
MAX_TEXT = 4000
"""Characters of an advisory's description kept (the API fields are short)."""


class _Lru(Generic[K, V]):
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = make()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


@dataclass(frozen=True, slots=True)
class AdvisoryText:
    """What a report says about one vulnerability finding beyond the stored row."""

    description: str = ""
    links: tuple[str, ...] = ()
    cvss_vector: str = ""


@dataclass(frozen=True, slots=True)
class LayerFact:
    """One layer of a scanned image."""

    index: int
    digest: str
    size: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """The parts of a stored report the detail queries read."""

    manifest_digest: str
    distro_id: str = ""
    distro_name: str = ""
    distro_version: str = ""
    layers: tuple[LayerFact, ...] = ()
    advisories: dict[str, AdvisoryText] = field(default_factory=dict)
    """By finding id."""
    packages: tuple[PackageRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageFile:
    """A regular file of an image's final filesystem."""

    path: str
    size: int
    layer_digest: str

    @property
    def name(self) -> str:
        """The file's name."""
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class PasswordFacts:
    """An image's password complexity and its accounts' hashes."""

    complexity: PasswordComplexity
    accounts: tuple[ShadowAccount, ...]


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_report(digest: str, document: dict[str, Any]) -> ReportFacts:
    """The parts of a report document the detail queries read (anything malformed is skipped)."""
    distro, image, inventory = (_dict(document.get(key)) for key in ("distro", "image", "inventory"))
    layers = tuple(
        LayerFact(
            _int(layer.get("index")),
            _text(layer.get("digest"), 140),
            _int(layer.get("size")),
            _text(layer.get("created_by"), 1000),
        )
        for layer in _list(image.get("layers"))
        if isinstance(layer, dict)
    )
    advisories: dict[str, AdvisoryText] = {}
    for entry in _list(document.get("vulnerabilities")):
        if isinstance(entry, dict) and isinstance(entry.get("finding_id"), str):
            links = _list(entry.get("links"))
            advisories[entry["finding_id"]] = AdvisoryText(
                _text(entry.get("description")),
                tuple(_text(link, 1000) for link in links[:20] if isinstance(link, str)),
                _text(entry.get("cvss_vector"), 200),
            )
    skipped = {
        (_text(s.get("purl"), 2000), _text(s.get("path"), 2000)): _text(s.get("reason"), 255)
        for s in _list(document.get("skipped_packages"))
        if isinstance(s, dict)
    }
    packages = []
    for package in _list(inventory.get("packages")):
        if not isinstance(package, dict):
            continue
        purl, path = _text(package.get("purl"), 2000), _text(package.get("path"), 2000)
        note = skipped.get((purl, path))
        packages.append(
            PackageRecord(
                _text(package.get("ecosystem"), 16),
                _text(package.get("name"), 255),
                _text(package.get("version"), 255),
                purl,
                path,
                _text(package.get("layer_digest"), 140),
                note is None,
                note or "",
            )
        )
    return ReportFacts(
        digest,
        _text(distro.get("id"), 128),
        _text(distro.get("pretty_name"), 255),
        _text(distro.get("version_id"), 128),
        layers,
        advisories,
        tuple(packages),
    )


class DetailReader:
    """Reads reports, file lists and password policies of scanned digests (see the module docstring)."""

    def __init__(self, db: Database, layer_cache: LayerCache | None) -> None:
        self.db = db
        self.layer_cache = layer_cache
        self._reports: _Lru[tuple[str, int], ReportFacts | None] = _Lru(REPORT_ENTRIES)
        self._files: _Lru[tuple[str, int], tuple[ImageFile, ...] | None] = _Lru(FILE_LIST_ENTRIES)
        self._passwords: _Lru[tuple[str, int], PasswordFacts | None] = _Lru(REPORT_ENTRIES)

    def _version(self, digest: str) -> int:
        return self.db.run_read(lambda conn: details_q.result_versions(conn, [digest])).get(digest, -1)

    def facts(self, digest: str) -> ReportFacts | None:
        """The parsed report of a digest (None: no report stored)."""
        version = self._version(digest)
        if version < 0:
            return None

        def load() -> ReportFacts | None:
            document = self.db.run_read(lambda conn: results_q.report(conn, digest))
            return parse_report(digest, document) if isinstance(document, dict) else None

        return self._reports.get_or_make((digest, version), load)

    def _view(self, facts: ReportFacts, plugins: Sequence[PasswordPolicyPlugin]) -> FlatView | None:
        if self.layer_cache is None or not facts.layers:
            return None
        scans = []
        for layer in facts.layers:
            scan, missing = self.layer_cache.load(layer.digest, plugins)
            if scan is None or missing:
                return None
            scans.append(scan)
        return FlatView(scans)

    def files(self, digest: str) -> tuple[ImageFile, ...] | None:
        """The regular files of a digest's final filesystem, by path (None: not available)."""
        version = self._version(digest)
        facts = self.facts(digest)
        if facts is None:
            return None

        def load() -> tuple[ImageFile, ...] | None:
            view = self._view(facts, [])
            if view is None:
                return None
            return tuple(
                ImageFile(path, flat.entry.size, flat.entry.layer_digest)
                for path, flat in sorted(view.files.items())
                if flat.entry.kind is FileKind.REGULAR
            )

        return self._files.get_or_make((digest, version), load)

    def passwords(self, digest: str) -> PasswordFacts | None:
        """A digest's password complexity and accounts (None: scanned before moorage kept them, or
        no layer cache)."""
        version = self._version(digest)
        facts = self.facts(digest)
        if facts is None:
            return None

        def load() -> PasswordFacts | None:
            view = self._view(facts, [PasswordPolicyPlugin()])
            if view is None:
                return None
            return PasswordFacts(evaluate_policy(view), tuple(shadow_accounts(view)))

        return self._passwords.get_or_make((digest, version), load)

    def ensure_packages(self, digests: Iterable[str]) -> None:
        """Index the packages of digests whose package rows are missing or stale."""
        wanted = list(dict.fromkeys(digests))
        stale = self.db.run_read(lambda conn: packages_q.stale(conn, wanted))
        for digest, version in stale:
            facts = self.facts(digest)
            packages = facts.packages if facts is not None else ()

            def write(
                conn: Connection,
                digest: str = digest,
                version: int = version,
                packages: tuple[PackageRecord, ...] = packages,
            ) -> None:
                if packages_q.stale(conn, [digest]):
                    packages_q.replace(conn, digest, version, packages)

            try:
                self.db.run_write(write)
            except IntegrityError:
                continue  # another request indexed the same digest at the same moment: its rows stand
