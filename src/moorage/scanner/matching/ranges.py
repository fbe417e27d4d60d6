"""Precompiled affected ranges and their evaluation (the OSV algorithm, per ecosystem).

An affected package is compiled once per matching run: its event versions are parsed and sorted,
so checking each installed version is a walk over a short list. Evaluation follows the OSV schema:
with events sorted, ``introduced`` at or below the version opens the range, ``fixed`` at or below
closes it, ``last_affected`` strictly below closes it; ``limit`` events cap the range from above.
A version is also affected when the ``versions`` list names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moorage.scanner.advisories.errors import VersionSyntaxError
from moorage.scanner.advisories.records import AffectedPackage, AffectedRange, EventKind, FixState
from moorage.scanner.matching.versions import ParsedVersionCache, VersionScheme, compare_parsed, scheme_for

_KIND_ORDER = {EventKind.INTRODUCED: 0, EventKind.FIXED: 1, EventKind.LAST_AFFECTED: 2, EventKind.LIMIT: 3}


@dataclass(frozen=True, slots=True)
class CompiledEvent:
    """A range event with its parsed version (``None`` for ``introduced: "0"``)."""

    kind: EventKind
    version: str
    parsed: Any


@dataclass(frozen=True, slots=True)
class CompiledRange:
    """One range's events parsed and sorted, and its limits apart."""

    scheme: VersionScheme
    events: tuple[CompiledEvent, ...]
    limits: tuple[Any, ...]
    limit_texts: tuple[str, ...]

    @property
    def text(self) -> str:
        """The range written for people: ``>=1.0, <1.4.2`` (built only for a hit)."""
        return _range_text(self.events, self.limit_texts)


@dataclass(frozen=True, slots=True)
class RangeHit:
    """Why an installed version is affected."""

    affected_range: str
    """The range (``>=1.0, <1.4.2``) or ``listed version``."""
    fixed_version: str
    """The first fixed version above the installed one in that range, or empty."""
    fix_state: FixState
    """``FIXED`` when ``fixed_version`` is set, else the vendor's state (at least ``UNFIXED``)."""
    reason: str
    """A sentence saying how the installed version falls in the range."""


def _sort_events(events: list[CompiledEvent]) -> list[CompiledEvent]:
    """Events by version (``introduced: "0"`` first), then introduced, fixed, last_affected, limit.

    The key uses only ``==`` and ``<`` of the parsed versions (as tuples do), so no
    ``cmp_to_key`` wrapper is needed.
    """

    def key(event: CompiledEvent) -> tuple[Any, ...]:
        if event.parsed is None:
            return (0, 0, _KIND_ORDER[event.kind])
        return (1, event.parsed, _KIND_ORDER[event.kind])

    return sorted(events, key=key)


def _range_text(events: tuple[CompiledEvent, ...], limits: tuple[str, ...]) -> str:
    symbols = {EventKind.INTRODUCED: ">=", EventKind.FIXED: "<", EventKind.LAST_AFFECTED: "<="}
    parts = [f"{symbols[e.kind]}{e.version}" for e in events]
    parts += [f"<{limit} (limit)" for limit in limits]
    return ", ".join(parts)


def compile_range(affected_range: AffectedRange, affected: AffectedPackage, cache: ParsedVersionCache) -> CompiledRange:
    """Parse and sort a range's events; raise ``VersionSyntaxError`` if one cannot be read."""
    scheme = scheme_for(affected.ecosystem, affected_range.kind)
    events: list[CompiledEvent] = []
    limits: list[Any] = []
    limit_texts: list[str] = []
    for event in affected_range.events:
        if event.kind is EventKind.LIMIT:
            if event.version != "*":
                limits.append(cache.parse(scheme, event.version))
                limit_texts.append(event.version)
            continue
        if event.kind is EventKind.INTRODUCED and event.version == "0":
            events.append(CompiledEvent(event.kind, event.version, None))
            continue
        events.append(CompiledEvent(event.kind, event.version, cache.parse(scheme, event.version)))
    ordered = tuple(_sort_events(events))
    return CompiledRange(scheme, ordered, tuple(limits), tuple(limit_texts))


def evaluate_range(compiled: CompiledRange, installed: Any) -> tuple[bool, CompiledEvent | None, str]:
    """Whether ``installed`` (parsed with ``compiled.scheme``) is in the range.

    Returns (affected, the closing event above it if any, the introduced version that opened it).
    """
    affected = False
    opened_by = ""
    for event in compiled.events:
        if event.kind is EventKind.INTRODUCED:
            if event.parsed is None or compare_parsed(installed, event.parsed) >= 0:
                affected, opened_by = True, event.version
        elif event.kind is EventKind.FIXED:
            if compare_parsed(installed, event.parsed) >= 0:
                affected = False
        elif event.kind is EventKind.LAST_AFFECTED and compare_parsed(installed, event.parsed) > 0:
            affected = False
    if affected and compiled.limits:
        affected = any(compare_parsed(installed, limit) < 0 for limit in compiled.limits)
    if not affected:
        return False, None, ""
    for event in compiled.events:
        if event.kind is EventKind.FIXED and compare_parsed(installed, event.parsed) < 0:
            return True, event, opened_by
        if event.kind is EventKind.LAST_AFFECTED and compare_parsed(installed, event.parsed) <= 0:
            return True, event, opened_by
    return True, None, opened_by


class CompiledAffected:
    """An affected package ready to test installed versions against; built once per run."""

    def __init__(self, affected: AffectedPackage, cache: ParsedVersionCache) -> None:
        self.affected = affected
        self.problems: list[str] = []
        self._cache = cache
        ranges: list[CompiledRange] = []
        for affected_range in affected.ranges:
            try:
                ranges.append(compile_range(affected_range, affected, cache))
            except VersionSyntaxError as error:
                self.problems.append(f"range skipped: {error}")
        self.ranges = tuple(ranges)
        self._listed = frozenset(affected.versions)
        self._listed_parsed: list[Any] | None = None

    def _is_listed(self, scheme: VersionScheme, installed_text: str, installed: Any) -> bool:
        if installed_text in self._listed:
            return True
        if not self._listed:
            return False
        if self._listed_parsed is None:
            parsed: list[Any] = []
            for text in self._listed:
                try:
                    parsed.append(self._cache.parse(scheme, text))
                except VersionSyntaxError:
                    continue
            self._listed_parsed = parsed
        return any(compare_parsed(installed, listed) == 0 for listed in self._listed_parsed)

    def check(self, installed_text: str) -> RangeHit | None:
        """Why ``installed_text`` is affected, or None; raises ``VersionSyntaxError`` for a bad version."""
        default_scheme = scheme_for(self.affected.ecosystem)
        best: RangeHit | None = None
        for compiled in self.ranges:
            try:
                installed = self._cache.parse(compiled.scheme, installed_text)
            except VersionSyntaxError:
                if compiled.scheme is default_scheme:
                    raise
                continue
            inside, closing, opened_by = evaluate_range(compiled, installed)
            if not inside:
                continue
            hit = self._hit(compiled, closing, opened_by, installed_text)
            if best is None or (hit.fixed_version and not best.fixed_version):
                best = hit
        if best is not None:
            return best
        if self._listed:
            installed = self._cache.parse(default_scheme, installed_text)
            if self._is_listed(default_scheme, installed_text, installed):
                return RangeHit(
                    affected_range="listed version",
                    fixed_version="",
                    fix_state=self._unfixed_state(),
                    reason=f"installed version {installed_text} is listed as affected",
                )
        return None

    def _unfixed_state(self) -> FixState:
        state = self.affected.fix_state
        return FixState.UNFIXED if state is FixState.FIXED else state

    def _hit(
        self, compiled: CompiledRange, closing: CompiledEvent | None, opened_by: str, installed_text: str
    ) -> RangeHit:
        since = "any version" if opened_by in ("", "0") else f"introduced {opened_by}"
        if closing is not None and closing.kind is EventKind.FIXED:
            reason = f"installed {installed_text} is at or after {since} and before fixed {closing.version}"
            return RangeHit(compiled.text, closing.version, FixState.FIXED, reason)
        if closing is not None:
            reason = (
                f"installed {installed_text} is at or after {since} and at or before last affected {closing.version}"
            )
        else:
            reason = f"installed {installed_text} is at or after {since}; no fixed version is known"
        return RangeHit(compiled.text, "", self._unfixed_state(), reason)
