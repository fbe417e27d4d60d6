"""The checks' exception types, raised for bad rule files, blocklists and dictionaries.

    CheckError                 base of every error the checks raise on purpose
     +-- RuleSetError          a YARA rule file is missing or does not compile
     +-- BlocklistError        a SHA-256 blocklist or word list is unreadable or malformed

A check never raises on bad *image* content (a corrupt shadow file, a binary where text was
expected): it skips what it cannot read. These errors are for the operator's own inputs.
"""

from __future__ import annotations


class CheckError(Exception):
    """Base class of the errors raised by ``moorage.scanner.checks``."""


class RuleSetError(CheckError):
    """A YARA rule file could not be read or compiled."""


class BlocklistError(CheckError):
    """A hash blocklist or word list could not be read or has a malformed line."""
