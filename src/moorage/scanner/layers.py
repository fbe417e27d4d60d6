"""One streaming pass over one layer: tar entries -> FileEntry -> plug-ins -> per-path results.

A layer is read once, front to back (gzip, zstd or plain tar, recognised by magic bytes, with the
blob's digest checked on the way). Whiteouts are recognised and recorded, never passed to plug-ins.
Only files some plug-in wants are read into memory, each up to the plug-in's cap and never past
``ScanLimits.max_file_bytes``. The result, :class:`LayerScan`, depends on nothing but the layer's
bytes and the plug-ins' versions (and per-file limits, in their cache keys), so it is cached by
layer digest (``moorage.scanner.cache``) and flattened later (``moorage.scanner.flatten``).

The whole-layer bounds (uncompressed bytes, members, the length of their names) end the pass
with :class:`~moorage.scanner.errors.LimitExceeded`. Anything else the pass leaves out — a file
past a cap, a member it cannot read, a name too long, a hard link to nothing — is recorded in
``LayerScan.errors`` with a :class:`~moorage.scanner.interface.SkipCode`: nothing is skipped silently.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

import zstandard

from moorage.scanner.errors import DigestMismatch, LayerError, ParseError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue, LayerPlugin, PartialResult, SkipCode
from moorage.scanner.layer_budget import LayerBudget, MemberCount
from moorage.scanner.limits import ScanLimits
from moorage.scanner.tarstream import StreamTooLarge, TarMember, TarReader

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_PATH_LENGTH = 4096
READER = "reader"
"""The plug-in name of what the layer reader itself left out (members it could not use)."""
_READ_CHUNK = 1 << 20
_SHOWN_NAME = 200

BlobOpener = Callable[[], IO[bytes]]
"""Opens a fresh binary stream over a layer blob (the pass may need to read it twice)."""

_KINDS: dict[bytes, FileKind] = {
    b"0": FileKind.REGULAR,
    b"7": FileKind.REGULAR,
    b"S": FileKind.REGULAR,
    b"1": FileKind.HARDLINK,
    b"2": FileKind.SYMLINK,
    b"3": FileKind.CHAR_DEVICE,
    b"4": FileKind.BLOCK_DEVICE,
    b"5": FileKind.DIRECTORY,
    b"6": FileKind.FIFO,
}


def normalize_path(name: str) -> str:
    """Absolute, normalised image path for a tar member name; ``..`` never climbs above ``/``."""
    stripped = name.removeprefix("./").strip("/")
    if "//" not in stripped and not _needs_slow_path(stripped):
        return "/" + stripped
    return normalize_path_slowly(name)


def normalize_path_slowly(name: str) -> str:
    """:func:`normalize_path` component by component (the reference the fast path must match)."""
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def _needs_slow_path(path: str) -> bool:
    """Whether a path has ``.``/``..`` components or backslashes (the rare case)."""
    return (
        "\\" in path
        or path in (".", "..")
        or path.startswith(("./", "../"))
        or path.endswith(("/.", "/.."))
        or "/./" in path
        or "/../" in path
    )


def resolve_link_target(link_path: str, target: str) -> str:
    """Where a symbolic link at ``link_path`` points, inside the image root (never outside it)."""
    base = target if target.startswith("/") else posixpath.join(posixpath.dirname(link_path), target)
    return normalize_path(base)


@dataclass(frozen=True, slots=True)
class PluginError:
    """A file a plug-in (or the reader) could not use, or used in part; kept in the result instead
    of failing the scan, and reported with the scan's errors."""

    plugin: str
    """Plug-in name (``reader`` for the layer reader itself)."""
    path: str
    """Image path of the file."""
    message: str
    """What went wrong, for people."""
    code: SkipCode = SkipCode.UNKNOWN
    """Why, as a documented code."""


@dataclass(frozen=True, slots=True)
class LayerScan:
    """Everything one pass over a layer produced: the layer's file list, deletions and results."""

    digest: str
    """Layer digest as the image lists it (``sha256:...``) or a synthetic id for a directory."""
    entries: tuple[FileEntry, ...]
    """Every entry but whiteouts, in archive order (a later duplicate wins)."""
    whiteouts: tuple[str, ...] = ()
    """Paths this layer deletes from the layers below (``.wh.<name>`` files)."""
    opaque_dirs: tuple[str, ...] = ()
    """Directories whose lower-layer contents this layer hides (``.wh..wh..opq``)."""
    results: Mapping[str, Mapping[str, JsonValue]] = field(default_factory=dict)
    """Plug-in name -> image path -> what the plug-in's ``extract`` returned."""
    errors: tuple[PluginError, ...] = ()
    """Files plug-ins (or the reader) wanted but could not use, or used in part."""
    uncompressed_bytes: int = 0
    """Length of the layer's uncompressed tar stream (0 for a directory): what the image's
    ``max_image_bytes`` counts, cached layers included."""
    members: int = 0
    """Tar members (or directory entries) the layer lists, whiteouts included."""

    def restricted_to(self, plugin_names: Iterable[str]) -> LayerScan:
        """The same scan with only the named plug-ins' results (and the reader's notes)."""
        names = set(plugin_names)
        return LayerScan(
            digest=self.digest,
            entries=self.entries,
            whiteouts=self.whiteouts,
            opaque_dirs=self.opaque_dirs,
            results={k: v for k, v in self.results.items() if k in names},
            errors=tuple(e for e in self.errors if e.plugin in names or e.plugin == READER),
            uncompressed_bytes=self.uncompressed_bytes,
            members=self.members,
        )


class _HashingReader(io.RawIOBase):
    """Reads a stream while hashing it, so the digest is checked in the same pass."""

    def __init__(self, raw: IO[bytes], algorithm: str | None) -> None:
        self._raw = raw
        self._hash = hashlib.new(algorithm) if algorithm else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        n = len(data)
        view[:n] = data
        if self._hash is not None and n:
            self._hash.update(data)
        return n

    def drain(self) -> str:
        """Hash the rest of the stream and return the hex digest."""
        if self._hash is None:
            return ""
        while True:
            data = self._raw.read(_READ_CHUNK)
            if not data:
                return self._hash.hexdigest()
            self._hash.update(data)


def _split_digest(digest: str) -> tuple[str | None, str]:
    algorithm, _, hexdigest = digest.partition(":")
    if algorithm in ("sha256", "sha512") and hexdigest:
        return algorithm, hexdigest.lower()
    return None, ""


def _shown(name: str) -> str:
    """A member name for a message (hostile names can be megabytes long)."""
    return name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + f"... ({len(name)} characters)"


class PluginPass:
    """State of one pass over a layer (a tar blob here, a directory in ``directory_layer``): plug-ins,
    collected results, errors and links still to resolve."""

    def __init__(self, plugins: Sequence[LayerPlugin], digest: str, limits: ScanLimits) -> None:
        self.plugins = plugins
        self.digest = digest
        self.limits = limits
        self.results: dict[str, dict[str, JsonValue]] = {p.name: {} for p in plugins}
        self.errors: list[PluginError] = []
        self.pending_links: list[tuple[FileEntry, str, list[LayerPlugin]]] = []

    def skip(self, path: str, code: SkipCode, message: str, plugin: str = READER) -> None:
        """Record what the pass leaves out."""
        self.errors.append(PluginError(plugin, path, message, code))

    def wanting(self, entry: FileEntry) -> list[LayerPlugin]:
        out: list[LayerPlugin] = []
        for plugin in self.plugins:
            try:
                if plugin.wants(entry):
                    out.append(plugin)
            except Exception as exc:  # a plug-in bug must not stop the pass
                self.skip(entry.path, SkipCode.PLUGIN_FAILED, f"wants() failed: {exc!r}", plugin.name)
        return out

    def cap(self, plugin: LayerPlugin) -> int:
        """Most bytes of a file ``plugin`` is given: its own cap, within ``max_file_bytes``."""
        return min(plugin.max_content_bytes, self.limits.max_file_bytes)

    def read_cap(self, entry: FileEntry, wanting: Sequence[LayerPlugin]) -> int:
        caps = [self.cap(p) for p in wanting if entry.size <= self.cap(p) or p.accepts_truncated]
        return max(caps, default=0)

    def feed(self, entry: FileEntry, content: bytes, wanting: Sequence[LayerPlugin]) -> None:
        for plugin in wanting:
            cap = self.cap(plugin)
            if len(content) < entry.size or entry.size > cap:
                if not plugin.accepts_truncated:
                    which = "max_file_bytes" if cap < plugin.max_content_bytes else "the plug-in's cap"
                    self.skip(
                        entry.path,
                        SkipCode.FILE_TOO_LARGE,
                        f"{entry.size} bytes is larger than the cap of {cap} ({which}): not read",
                        plugin.name,
                    )
                    continue
                if cap < plugin.max_content_bytes or not plugin.prefix_is_enough:
                    which = "max_file_bytes" if cap < plugin.max_content_bytes else "the plug-in's cap"
                    self.skip(
                        entry.path,
                        SkipCode.FILE_TRUNCATED,
                        f"only the first {min(cap, len(content))} of {entry.size} bytes were read ({which})",
                        plugin.name,
                    )
            try:
                value = plugin.extract(entry, content if len(content) <= cap else content[:cap])
            except ParseError as exc:
                self.skip(entry.path, SkipCode.MALFORMED, str(exc), plugin.name)
                continue
            except Exception as exc:
                self.skip(entry.path, SkipCode.PLUGIN_FAILED, f"{type(exc).__name__}: {exc}", plugin.name)
                continue
            if isinstance(value, PartialResult):
                for skipped in value.skipped:
                    self.skip(entry.path, skipped.code, skipped.message, plugin.name)
                value = value.value
            if value is not None:
                self.results[plugin.name][entry.path] = value


def _entry_from_member(member: TarMember, digest: str) -> FileEntry | None:
    kind = _KINDS.get(member.type)
    if kind is None:
        return None
    path = normalize_path(member.name)
    link = member.linkname if kind in (FileKind.SYMLINK, FileKind.HARDLINK) else ""
    if kind is FileKind.HARDLINK:
        link = normalize_path(link)
    return FileEntry(
        path=path,
        kind=kind,
        size=member.size if kind is FileKind.REGULAR else 0,
        mode=member.mode & 0o7777,
        uid=member.uid,
        gid=member.gid,
        link_target=link,
        layer_digest=digest,
    )


def scan_tar_layer(
    opener: BlobOpener,
    *,
    digest: str,
    plugins: Sequence[LayerPlugin],
    verify_digest: bool = True,
    budget: LayerBudget | None = None,
) -> LayerScan:
    """Read one layer blob once and run the plug-ins over it (see the module docstring)."""
    budget = budget or LayerBudget()
    state = PluginPass(plugins, digest, budget.limits)
    entries: list[FileEntry] = []
    whiteouts: list[str] = []
    opaque: list[str] = []
    count = MemberCount(budget, digest)
    algorithm, expected = _split_digest(digest) if verify_digest else (None, "")
    raw = opener()
    try:
        hashing = _HashingReader(raw, algorithm)
        try:
            archive = TarReader(cast(IO[bytes], hashing), max_bytes=budget.max_bytes)
            for member in archive:
                count.add(member.name, member.linkname)
                if len(member.name) > MAX_PATH_LENGTH:
                    state.skip(
                        _shown(member.name), SkipCode.PATH_TOO_LONG, f"a {len(member.name)}-byte name: member skipped"
                    )
                    continue
                base = posixpath.basename(member.name.rstrip("/"))
                if base.startswith(WHITEOUT_PREFIX):
                    parent = posixpath.dirname(normalize_path(member.name))
                    if base == OPAQUE_MARKER:
                        opaque.append(parent)
                    else:
                        whiteouts.append(normalize_path(posixpath.join(parent, base[len(WHITEOUT_PREFIX) :])))
                    continue
                entry = _entry_from_member(member, digest)
                if entry is None:
                    state.skip(
                        normalize_path(member.name),
                        SkipCode.UNSUPPORTED,
                        f"tar member type {member.type!r} is not read: member skipped",
                    )
                    continue
                if entry.path == "/":
                    continue
                entries.append(entry)
                wanting = state.wanting(entry)
                if not wanting:
                    continue
                if entry.kind is FileKind.HARDLINK:
                    state.pending_links.append((entry, entry.link_target, wanting))
                    continue
                if entry.kind is not FileKind.REGULAR:
                    continue
                if member.sparse:
                    state.skip(entry.path, SkipCode.UNSUPPORTED, "a sparse tar member: its content is not read")
                    continue
                cap = state.read_cap(entry, wanting)
                content = archive.read(cap) if cap else b""
                state.feed(entry, content, wanting)
                del content
            uncompressed = archive.position
            actual = hashing.drain()
        except StreamTooLarge as exc:
            raise budget.too_large(digest, exc.needed) from exc
        except (zstandard.ZstdError, EOFError, OSError, ValueError) as exc:
            raise LayerError(f"layer {digest} is not a readable tar stream: {exc}") from exc
    finally:
        raw.close()
    if expected and actual != expected:
        raise DigestMismatch(f"layer content hashes to {algorithm}:{actual}, not {digest}")
    if state.pending_links:
        _resolve_hardlinks(opener, state, entries, budget.max_bytes)
    return LayerScan(
        digest=digest,
        entries=tuple(entries),
        whiteouts=tuple(whiteouts),
        opaque_dirs=tuple(opaque),
        results={k: v for k, v in state.results.items()},
        errors=tuple(state.errors),
        uncompressed_bytes=uncompressed,
        members=count.members,
    )


def _resolve_hardlinks(opener: BlobOpener, state: PluginPass, entries: Sequence[FileEntry], max_bytes: int) -> None:
    """Second, rare pass: read the targets of wanted hard links and feed them as the links."""
    by_target: dict[str, list[tuple[FileEntry, list[LayerPlugin]]]] = {}
    for link_entry, target, wanting in state.pending_links:
        by_target.setdefault(target, []).append((link_entry, wanting))
    sizes = {e.path: e.size for e in entries if e.kind is FileKind.REGULAR}
    raw = opener()
    try:
        archive = TarReader(raw, max_bytes=max_bytes)
        for member in archive:
            path = normalize_path(member.name)
            if path not in by_target or _KINDS.get(member.type) is not FileKind.REGULAR or member.sparse:
                continue
            links = by_target.pop(path)
            caps = [state.read_cap(e, w) for e, w in links]
            content = archive.read(max(caps)) if max(caps) else b""
            for link_entry, wanting in links:
                entry = FileEntry(
                    path=link_entry.path,
                    kind=FileKind.HARDLINK,
                    size=sizes.get(path, member.size),
                    mode=link_entry.mode,
                    uid=link_entry.uid,
                    gid=link_entry.gid,
                    link_target=path,
                    layer_digest=link_entry.layer_digest,
                )
                state.feed(entry, content, wanting)
            del content
            if not by_target:
                break
    except (zstandard.ZstdError, EOFError, OSError, ValueError) as exc:
        raise LayerError(f"layer {state.digest}: second pass for hard links failed: {exc}") from exc
    finally:
        raw.close()
    for target, links in by_target.items():
        for link_entry, _wanting in links:
            state.skip(
                link_entry.path,
                SkipCode.LINK_TARGET_MISSING,
                f"hard link to {target}, which is not a regular file of this layer: not read",
            )
