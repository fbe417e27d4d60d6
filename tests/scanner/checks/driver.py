"""A small standalone driver that feeds the checks from a root-filesystem directory or tar layers.

The real layer reader belongs to another part of the scanner; this driver lets the checks' tests
run without it. It follows the same contract (``checks.interface``): every entry of every layer
goes through ``wants`` before any byte is read, wanted files get their first ``max_bytes``
bytes, OCI whiteouts (``.wh.<name>``, ``.wh..wh..opq``) are applied when flattening, and findings
in files that a later layer deletes or replaces are kept and marked.
"""

from __future__ import annotations

import posixpath
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moorage.scanner.checks.findings import Finding, mark_final_visibility
from moorage.scanner.checks.interface import CheckSet
from moorage.scanner.files import FileEntry, FileKind

_TAR_KINDS = {
    tarfile.REGTYPE: FileKind.REGULAR,
    tarfile.AREGTYPE: FileKind.REGULAR,
    tarfile.DIRTYPE: FileKind.DIRECTORY,
    tarfile.SYMTYPE: FileKind.SYMLINK,
    tarfile.LNKTYPE: FileKind.HARDLINK,
    tarfile.CHRTYPE: FileKind.CHAR_DEVICE,
    tarfile.BLKTYPE: FileKind.BLOCK_DEVICE,
    tarfile.FIFOTYPE: FileKind.FIFO,
}


def normalise(name: str) -> str:
    """Absolute, normalised image path of a tar member name (never escapes the root)."""
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


@dataclass
class ScanStats:
    """What the driver read, for throughput figures."""

    files_seen: int = 0
    files_read: dict[str, int] = field(default_factory=dict)
    bytes_read: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def iter_tar(path: Path, layer_digest: str) -> Iterator[tuple[FileEntry, tarfile.TarFile, tarfile.TarInfo]]:
    """Entries of one tar layer, whiteouts included (the caller recognises them)."""
    with tarfile.open(path) as archive:
        for member in archive:
            kind = _TAR_KINDS.get(member.type)
            if kind is None:
                continue
            entry = FileEntry(
                path=normalise(member.name),
                kind=kind,
                size=member.size if kind is FileKind.REGULAR else 0,
                mode=member.mode,
                uid=member.uid,
                gid=member.gid,
                link_target=member.linkname,
                layer_digest=layer_digest,
            )
            yield entry, archive, member


def rootfs_to_tar(root: Path, tar_path: Path) -> Path:
    """Pack a root filesystem directory as a layer tar (numeric owners, modes kept)."""
    with tarfile.open(tar_path, "w") as archive:
        archive.add(root, arcname=".")
    return tar_path


@dataclass
class ImageScan:
    """Findings of one image plus what the flattened filesystem looks like."""

    findings: list[Finding]
    final_layer_by_path: dict[str, str]
    stats: ScanStats


def scan_layers(
    checks: CheckSet,
    layers: Sequence[tuple[str, Path]],
    config: Mapping[str, Any] | None = None,
) -> ImageScan:
    """Run every check over tar ``layers`` ((digest, path), bottom first) and an image ``config``."""
    import time

    stats = ScanStats()
    findings: list[Finding] = []
    flat: dict[str, tuple[FileEntry, bytes | None]] = {}
    for digest, path in layers:
        for entry, archive, member in iter_tar(path, digest):
            stats.files_seen += 1
            directory, name = posixpath.split(entry.path)
            if name == ".wh..wh..opq":
                prefix = directory.rstrip("/") + "/"
                for known in [p for p in flat if p.startswith(prefix)]:
                    del flat[known]
                continue
            if name.startswith(".wh."):
                removed = posixpath.join(directory, name[4:])
                for known in [p for p in flat if p == removed or p.startswith(removed + "/")]:
                    del flat[known]
                continue
            wanted = [c for c in checks.file_checks if c.wants(entry)]
            keep_bytes = any(c.wants_content(entry) for c in checks.filesystem_checks)
            content: bytes | None = None
            if (wanted or keep_bytes) and entry.kind is FileKind.REGULAR:
                cap = max([c.max_bytes for c in wanted] + [c.max_bytes for c in checks.filesystem_checks])
                reader = archive.extractfile(member)
                content = reader.read(cap) if reader is not None else b""
            for check in wanted:
                data = (content or b"")[: check.max_bytes]
                started = time.perf_counter()
                findings.extend(check.check(entry, data))
                stats.seconds[check.name] = stats.seconds.get(check.name, 0.0) + time.perf_counter() - started
                stats.files_read[check.name] = stats.files_read.get(check.name, 0) + 1
                stats.bytes_read[check.name] = stats.bytes_read.get(check.name, 0) + len(data)
            flat[entry.path] = (entry, content if keep_bytes else None)
    final_layer_by_path = {path: entry.layer_digest for path, (entry, _) in flat.items()}
    findings = mark_final_visibility(findings, final_layer_by_path)
    for fs_check in checks.filesystem_checks:
        findings.extend(fs_check.check_filesystem(flat))
    if config is not None:
        digests = [digest for digest, _ in layers]
        for config_check in checks.config_checks:
            findings.extend(config_check.check_config(config, digests))
    return ImageScan(findings=findings, final_layer_by_path=final_layer_by_path, stats=stats)


def mode_of(path: Path) -> int:
    """Permission bits of a file on disk, for building fixtures."""
    return stat.S_IMODE(path.lstat().st_mode)
