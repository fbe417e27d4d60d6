"""The checks' exception types, raised for bad rule files, blocklists and dictionaries.

    CheckError                 base of every error the checks raise on purpose
     +-- RuleSetError          a YARA rule file is missing or does not compile
     +-- BlocklistError        a SHA-256 blocklist or word list is unreadable or malformed

A check never raises on bad *image* content (a corrupt shadow file, a binary where text was
expected): it skips what it cannot read. These errors are for the operator's own inputs. The one
exception, :class:`CheckIncomplete`, is not an error: it carries a file check's findings together
with what the check could not do, so the skip is reported rather than only logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from moorage.scanner.checks.findings import Finding


class CheckError(Exception):
    """Base class of the errors raised by ``moorage.scanner.checks``."""


class RuleSetError(CheckError):
    """A YARA rule file could not be read or compiled."""


class BlocklistError(CheckError):
    """A hash blocklist or word list could not be read or has a malformed line."""


class CheckIncomplete(Exception):
    """A file check ran only in part on a file (YARA timed out): its findings, and why."""

    def __init__(self, findings: list[Finding], reason: str) -> None:
        super().__init__(reason)
        self.findings = findings
        """What the check found before it had to stop."""
        self.reason = reason
        """What it could not do, for people."""
