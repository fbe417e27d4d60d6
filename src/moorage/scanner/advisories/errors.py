"""Errors of the vulnerability half of the scanner (advisory database and matching).

Every failure caused by bad input (a feed, a bundle, a database file, a version string) is one of
these, with a message that names what was wrong and where; foreign exceptions (sqlite3, httpx,
zipfile, pydantic) are converted at the boundary. The hierarchy::

    VulnerabilityDatabaseError
    +-- SourceSpecError        a ``KIND:PATH_OR_URL`` source that cannot be understood
    +-- SourceFetchError       a source that cannot be read or downloaded
    +-- FeedFormatError        a feed document that is not what its importer reads
    +-- BundleError            a database bundle that is damaged, foreign or too large
    +-- StoreError             a database file that is missing, damaged or of another schema
    +-- VersionSyntaxError     a version string the ecosystem's comparator cannot read
"""

from __future__ import annotations


class VulnerabilityDatabaseError(Exception):
    """Base class of every advisory-database and matching error."""


class SourceSpecError(VulnerabilityDatabaseError):
    """A ``--source KIND:PATH_OR_URL`` argument names an unknown kind or has no location."""


class SourceFetchError(VulnerabilityDatabaseError):
    """A source's file, directory or URL cannot be read (missing, HTTP error, too large)."""


class FeedFormatError(VulnerabilityDatabaseError):
    """A feed document does not have the structure its importer expects."""


class BundleError(VulnerabilityDatabaseError):
    """A database bundle is damaged (checksum, archive), of another schema, or too large."""


class StoreError(VulnerabilityDatabaseError):
    """The advisory database file is missing, unreadable, damaged or of another schema version."""


class VersionSyntaxError(VulnerabilityDatabaseError):
    """A version string is not valid in its ecosystem's syntax, so it cannot be compared."""
