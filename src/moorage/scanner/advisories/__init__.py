"""The advisory database: importers for each feed, the SQLite store, bundles, build and update.

Public surface: the record types, ``AdvisoryStore`` (read), ``build_database`` /
``update_database`` (in ``builder``), ``export_bundle`` / ``import_bundle`` (in ``bundle``) and
the errors. Importers are reached through ``sources.importer_for``.
"""

from moorage.scanner.advisories.errors import (
    BundleError,
    FeedFormatError,
    SourceFetchError,
    SourceSpecError,
    StoreError,
    VersionSyntaxError,
    VulnerabilityDatabaseError,
)
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    CveMetadata,
    EventKind,
    FixState,
    NameKind,
    RangeEvent,
    Severity,
)
from moorage.scanner.advisories.store import AdvisoryStore, DatabaseInfo, SourceSummary

__all__ = [
    "AdvisoryRecord",
    "AdvisoryStore",
    "AffectedPackage",
    "AffectedRange",
    "BundleError",
    "CveMetadata",
    "DatabaseInfo",
    "EventKind",
    "FeedFormatError",
    "FixState",
    "NameKind",
    "RangeEvent",
    "Severity",
    "SourceFetchError",
    "SourceSpecError",
    "SourceSummary",
    "StoreError",
    "VersionSyntaxError",
    "VulnerabilityDatabaseError",
]
