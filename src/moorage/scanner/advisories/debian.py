"""Debian security tracker importer (https://security-tracker.debian.org/tracker/data/json).

The tracker's JSON maps source package -> CVE (or ``TEMP-...``) -> release codename -> state:
``resolved`` with a ``fixed_version`` (``0`` means the release was never affected), ``open``
(unfixed) or ``undetermined``, an ``urgency`` (``unimportant``, ``low``, ``medium``, ``high``,
``end-of-life``, ``not yet assigned``) and, for open issues, the no-DSA decision
(``nodsa_reason``: ``postponed`` or ``ignored``). One record is produced per (package, CVE), with
one affected entry per release that is affected.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pydantic

from moorage.scanner.advisories.errors import FeedFormatError
from moorage.scanner.advisories.feeds import iter_documents
from moorage.scanner.advisories.interface import ImportTally
from moorage.scanner.advisories.records import (
    AdvisoryRecord,
    AffectedPackage,
    AffectedRange,
    CveMetadata,
    EventKind,
    FixState,
    NameKind,
    RangeEvent,
)
from moorage.scanner.advisories.scopes import distro_scope, normalise_name
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.matching.severity import vendor_severity
from moorage.scanner.matching.versions import is_valid_version

TRACKER_URL = "https://security-tracker.debian.org/tracker/"


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore")


class DebianReleaseState(_Model):
    """``releases[codename]`` of one tracker entry."""

    status: str
    fixed_version: str | None = None
    urgency: str = ""
    nodsa: str | None = None
    nodsa_reason: str | None = None


class DebianTrackerEntry(_Model):
    """One (source package, CVE) entry of the tracker."""

    description: str = ""
    releases: dict[str, DebianReleaseState] = {}


def _open_state(state: DebianReleaseState) -> tuple[FixState, str]:
    reason = (state.nodsa_reason or "").strip().lower()
    urgency = state.urgency.strip().lower()
    if urgency == "end-of-life":
        return FixState.END_OF_LIFE, "end of life"
    if reason == "postponed":
        return FixState.DEFERRED, f"no DSA, postponed: {state.nodsa or ''}".strip(": ")
    if reason == "ignored":
        return FixState.WILL_NOT_FIX, f"no DSA, ignored: {state.nodsa or ''}".strip(": ")
    if state.nodsa is not None:
        return FixState.WILL_NOT_FIX, f"no DSA: {state.nodsa}".strip(": ")
    if state.status == "undetermined":
        return FixState.UNFIXED, "undetermined"
    return FixState.UNFIXED, ""


def convert_entry(package: str, cve_id: str, entry: DebianTrackerEntry, tally: ImportTally) -> AdvisoryRecord | None:
    """One tracker entry as a record with an affected package per affected release; None if none is."""
    description = entry.description.strip()
    if description.upper().startswith(("** REJECT", "REJECTED")):
        tally.skip("withdrawn", cve_id)
        return None
    name = normalise_name(Ecosystem.DEB, package)
    affected: list[AffectedPackage] = []
    for codename, state in sorted(entry.releases.items()):
        scope = distro_scope("debian", codename)
        rating = vendor_severity(state.urgency)
        events: tuple[RangeEvent, ...]
        if state.status == "resolved":
            fixed = (state.fixed_version or "").strip()
            if fixed in ("", "0"):
                continue
            if not is_valid_version(Ecosystem.DEB, fixed):
                tally.skip("invalid version", f"{cve_id} {package} {codename}: {fixed!r}")
                continue
            events = (RangeEvent(EventKind.INTRODUCED, "0"), RangeEvent(EventKind.FIXED, fixed))
            fix_state, note = FixState.FIXED, ""
        elif state.status in ("open", "undetermined"):
            events = (RangeEvent(EventKind.INTRODUCED, "0"),)
            fix_state, note = _open_state(state)
        else:
            tally.skip("unknown status", f"{cve_id} {package} {codename}: {state.status}")
            continue
        affected.append(
            AffectedPackage(
                scope=scope,
                ecosystem=Ecosystem.DEB,
                name=name,
                name_kind=NameKind.SOURCE,
                ranges=(AffectedRange(events),),
                fix_state=fix_state,
                vendor_severity=rating,
                note=note,
            )
        )
    if not affected:
        tally.skip("not affected in any release", f"{cve_id} {package}")
        return None
    return AdvisoryRecord(
        source="debian",
        id=cve_id,
        summary="",
        details=description[:8000],
        references=(TRACKER_URL + cve_id,),
        affected=tuple(affected),
    )


class DebianTrackerImporter:
    """Reads the Debian security tracker's JSON export (plain or compressed)."""

    kind: ClassVar[str] = "debian"

    def read(self, location: Path, tally: ImportTally) -> Iterator[AdvisoryRecord | CveMetadata]:
        """Yield one record per (source package, CVE) that affects some Debian release."""
        for document in iter_documents(location, (".json",)):
            try:
                tracker = json.loads(document.data)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise FeedFormatError(f"{document.name}: not JSON: {error}") from error
            if not isinstance(tracker, dict):
                raise FeedFormatError(f"{document.name}: not a Debian tracker export (not an object)")
            yield from self._read_tracker(document.name, tracker, tally)

    def _read_tracker(self, name: str, tracker: dict[str, Any], tally: ImportTally) -> Iterator[AdvisoryRecord]:
        for package, issues in tracker.items():
            if not isinstance(issues, dict):
                raise FeedFormatError(f"{name}: package {package!r} does not map to issues")
            for cve_id, raw_entry in issues.items():
                try:
                    entry = DebianTrackerEntry.model_validate(raw_entry)
                except pydantic.ValidationError as error:
                    tally.skip("malformed entry", f"{package} {cve_id}: {str(error).splitlines()[0]}")
                    continue
                record = convert_entry(package, cve_id.strip(), entry, tally)
                if record is not None:
                    yield record
