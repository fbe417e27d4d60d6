"""The checks (``moorage.scanner.checks``) inside the analysis's single streaming pass over each layer.

The checks were written against their own small contract (``checks.interface``); this module
adapts it to the layer pass (:class:`moorage.scanner.interface.LayerPlugin`) and back:

* each ``FileCheck`` (secrets, malware) becomes one :class:`FileCheckPlugin`: it sees every file
  of every layer, its ``extract`` returns the file's findings as JSON, so a layer's check
  results are cached by layer digest like the analyzers' and a base layer shared by many images
  is checked once;
* the ``FilesystemCheck`` s (baseline) get one :class:`FilesystemContentPlugin` that keeps the
  bytes of the few files they ask for (passwd, shadow, sshd and sudo configuration), cached the
  same way; after flattening, :func:`run_checks` hands them the final filesystem;
* the ``ConfigCheck`` s (image configuration, build history) run on the image config.

Only what some plug-in wants is read, and only up to its cap, as for the analyzers.

A plug-in's cache key carries a fingerprint of everything its results depend on: the checks'
own code and shipped rules, and the operator's options with the content of every file they name
(extra YARA rules, blocklists, dictionaries). Change any of them and the layers are checked again.

The checks hold compiled YARA rules, which cannot be pickled, so a plug-in carries a
:class:`CheckRecipe` and builds its check on first use in each worker process or thread (about
40 ms; the checks are not meant to be shared between threads).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from moorage.scanner import checks as checks_package
from moorage.scanner.checks import CheckOptions, CheckSet, build_check_set
from moorage.scanner.checks.errors import CheckError, CheckIncomplete
from moorage.scanner.checks.findings import (
    Finding,
    MalwareFinding,
    SecretFinding,
    finding_from_json,
    finding_to_json,
)
from moorage.scanner.checks.interface import FileCheck, FilesystemCheck
from moorage.scanner.files import FileEntry
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue, LayerPlugin, PartialResult, SkipCode, Skipped

PLUGIN_FORMAT = "1"
"""Version of what the adapters store per path; part of every check plug-in's cache key."""
FILE_CHECK_PREFIX = "check-"
"""Plug-in names of file checks: ``check-secret``, ``check-malware``."""
FILESYSTEM_CONTENT_PLUGIN = "check-filesystem-content"
"""Plug-in name of the file contents the filesystem checks read."""
_CHECK_SOURCES = ("*.py", "rules/*")


def _checks_code_digest() -> bytes:
    """SHA-256 over the checks package's code and shipped rules, so a new release re-checks layers."""
    root = Path(checks_package.__file__).parent
    digest = hashlib.sha256()
    for pattern in _CHECK_SOURCES:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def _option_files(options: CheckOptions) -> Iterable[Path]:
    yield from options.yara_rule_files
    yield from options.blocklist_files
    yield from options.weak_password_files


def fingerprint(options: CheckOptions) -> str:
    """Hex digest of the checks' code, the options and the content of every file they name."""
    digest = hashlib.sha256(PLUGIN_FORMAT.encode() + b"\0" + _checks_code_digest())
    for field in fields(CheckOptions):
        digest.update(f"{field.name}={getattr(options, field.name)!r}\0".encode())
    for path in _option_files(options):
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            raise CheckError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class CheckRecipe:
    """What it takes to build the checks again in another process: picklable, unlike the checks."""

    scanners: tuple[str, ...]
    """``secret``, ``malware``, ``config`` (others are ignored by the checks)."""
    options: CheckOptions
    """The operator's rule files, lists and switches."""
    fingerprint: str
    """:func:`fingerprint` of ``options`` (and of the checks' code)."""

    def build(self) -> CheckSet:
        """A fresh set of checks (compiles the YARA rules)."""
        return build_check_set(self.scanners, self.options)


class _PerThread:
    """A value built on first use in each thread, and never pickled (workers build their own)."""

    def __init__(self, first: Any = None) -> None:
        """``first``: the value for the constructing thread, when it is already built."""
        self._local = threading.local()
        if first is not None:
            self._local.value = first

    def get(self, build: Any) -> Any:
        """This thread's value, made with ``build()`` on first use."""
        value = getattr(self._local, "value", None)
        if value is None:
            value = self._local.value = build()
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._local = threading.local()


class FileCheckPlugin(LayerPlugin):
    """One ``FileCheck`` run on every file of every layer; per-path result: the findings as JSON."""

    accepts_truncated = True
    prefix_is_enough = True  # the check says what a prefix costs it (CheckIncomplete), or it is its window

    def __init__(self, recipe: CheckRecipe, check: FileCheck) -> None:
        """Wrap ``check`` (already built from ``recipe``, which rebuilds it in other processes)."""
        self.recipe = recipe
        self.check_name = check.name
        self.name = FILE_CHECK_PREFIX + check.name
        self.version = f"{PLUGIN_FORMAT}.{recipe.fingerprint[:20]}"
        self.max_content_bytes = check.max_bytes
        self._check = _PerThread(check)

    def _file_check(self) -> FileCheck:
        def build() -> FileCheck:
            """The recipe's check of this name."""
            for candidate in self.recipe.build().file_checks:
                if candidate.name == self.check_name:
                    return candidate
            raise CheckError(f"the recipe builds no {self.check_name!r} check")

        check: FileCheck = self._check.get(build)
        return check

    def wants(self, entry: FileEntry) -> bool:
        """Whatever the check wants (decided from the header)."""
        return self._file_check().wants(entry)

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue | PartialResult:
        """The file's findings in their JSON form, or None when it has none; with what the check
        could not do when it ran only in part."""
        try:
            findings = self._file_check().check(entry, content)
        except CheckIncomplete as incomplete:
            found: JsonValue = [finding_to_json(f) for f in incomplete.findings] or None
            return PartialResult(found, (Skipped(SkipCode.CHECK_INCOMPLETE, incomplete.reason),))
        return [finding_to_json(f) for f in findings] or None


class FilesystemContentPlugin(LayerPlugin):
    """Keeps the bytes of the files the filesystem checks parse (as latin-1 text: JSON, lossless)."""

    name = FILESYSTEM_CONTENT_PLUGIN
    accepts_truncated = True

    def __init__(self, recipe: CheckRecipe, checks: Sequence[FilesystemCheck]) -> None:
        """Serve ``checks`` (already built from ``recipe``, which rebuilds them in other processes)."""
        self.recipe = recipe
        self.version = f"{PLUGIN_FORMAT}.{recipe.fingerprint[:20]}"
        self.max_content_bytes = max(check.max_bytes for check in checks)
        self._checks = _PerThread(tuple(checks))

    def _filesystem_checks(self) -> tuple[FilesystemCheck, ...]:
        built: tuple[FilesystemCheck, ...] = self._checks.get(lambda: self.recipe.build().filesystem_checks)
        return built

    def wants(self, entry: FileEntry) -> bool:
        """A file some filesystem check wants the content of."""
        return any(check.wants_content(entry) for check in self._filesystem_checks())

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        """The bytes, one character per byte."""
        return content.decode("latin-1")


@dataclass(frozen=True, slots=True)
class CheckPlugins:
    """The checks of one scan and the layer plug-ins that feed them."""

    checks: CheckSet
    """Built once in this process (also validates the operator's files)."""
    layer_plugins: tuple[LayerPlugin, ...]
    """Give these to the analysis (``AnalysisOptions.extra_plugins``)."""

    @property
    def file_plugin_names(self) -> frozenset[str]:
        """Names of the file-check plug-ins."""
        return frozenset(p.name for p in self.layer_plugins if isinstance(p, FileCheckPlugin))

    @property
    def plugin_names(self) -> frozenset[str]:
        """Names of every check plug-in (to tell their errors from the analyzers')."""
        return frozenset(p.name for p in self.layer_plugins)


def check_plugins(scanners: Iterable[str], options: CheckOptions | None = None) -> CheckPlugins:
    """Build the checks for ``scanners`` and their layer plug-ins; ``CheckError`` on bad options."""
    options = options or CheckOptions()
    wanted = tuple(sorted(set(scanners)))
    checks = build_check_set(wanted, options)
    recipe = CheckRecipe(wanted, options, fingerprint(options))
    plugins: list[LayerPlugin] = [FileCheckPlugin(recipe, check) for check in checks.file_checks]
    if checks.filesystem_checks:
        plugins.append(FilesystemContentPlugin(recipe, checks.filesystem_checks))
    return CheckPlugins(checks, tuple(plugins))


@dataclass(frozen=True, slots=True)
class PlacedFinding:
    """A check finding and the position of the layer that holds it (None: image-level)."""

    finding: Finding
    """The finding (file findings with ``in_final_filesystem`` set)."""
    layer_index: int | None
    """0 = base layer; None when the finding names no layer."""


def _layer_index(layer_digests: Sequence[str], digest: str) -> int | None:
    """Position of ``digest`` (the topmost when an image repeats a layer)."""
    for index in range(len(layer_digests) - 1, -1, -1):
        if layer_digests[index] == digest:
            return index
    return None


def checks_filesystem(view: FlatView) -> dict[str, tuple[FileEntry, bytes | None]]:
    """The checks' view of the final filesystem: every visible path, with bytes where kept."""
    kept: dict[int, Mapping[str, JsonValue]] = {}
    out: dict[str, tuple[FileEntry, bytes | None]] = {}
    for path, flat in view.files.items():
        by_path = kept.get(flat.layer_index)
        if by_path is None:
            by_path = kept[flat.layer_index] = view.layers[flat.layer_index].results.get(FILESYSTEM_CONTENT_PLUGIN, {})
        text = by_path.get(path)
        out[path] = (flat.entry, text.encode("latin-1") if isinstance(text, str) else None)
    return out


def run_checks(
    plugins: CheckPlugins, view: FlatView, config: Mapping[str, Any], layer_digests: Sequence[str]
) -> tuple[list[PlacedFinding], list[Skipped]]:
    """Every finding of the checks over a flattened image, and what could not be read back or
    checked in full.

    File findings come from every layer's cached or fresh results, marked ``in_final_filesystem``
    false when an upper layer deleted or replaced the file; the filesystem checks see the final
    filesystem; the config checks see ``config`` (skipped when empty: a root filesystem has none).
    """
    placed: list[PlacedFinding] = []
    problems: list[Skipped] = []
    names = plugins.file_plugin_names
    for result in view.layer_results():
        if result.plugin not in names or not isinstance(result.value, list):
            continue
        for body in result.value:
            try:
                finding = finding_from_json(body if isinstance(body, dict) else {})
            except CheckError as exc:
                where = f"{result.plugin} {result.path} in {result.layer_digest}"
                problems.append(Skipped(SkipCode.MALFORMED, f"{where}: {exc}"))
                continue
            if isinstance(finding, SecretFinding | MalwareFinding):
                finding = _with_visibility(finding, not result.deleted_later)
            placed.append(PlacedFinding(finding, result.layer_index))
    if plugins.checks.filesystem_checks:
        filesystem = checks_filesystem(view)
        for check in plugins.checks.filesystem_checks:
            try:
                found = check.check_filesystem(filesystem)
            except CheckIncomplete as incomplete:
                found = incomplete.findings
                problems.append(Skipped(SkipCode.CHECK_INCOMPLETE, f"{check.name}: {incomplete.reason}"))
            for finding in found:
                placed.append(PlacedFinding(finding, _layer_index(layer_digests, finding.layer_digest)))
    if config:
        for config_check in plugins.checks.config_checks:
            for finding in config_check.check_config(config, layer_digests):
                placed.append(PlacedFinding(finding, _layer_index(layer_digests, finding.layer_digest)))
    return placed, problems


def _with_visibility(finding: SecretFinding | MalwareFinding, visible: bool) -> Finding:
    import dataclasses

    return dataclasses.replace(finding, in_final_filesystem=visible)
