"""Build small image layers (tar files) with planted problems, entirely in the test.

A ``LayerBuilder`` collects files, directories, symlinks and OCI whiteouts with exact modes and
owners, and writes an uncompressed layer tar whose digest is its SHA-256, as a registry would
name it.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LayerBuilder:
    """A layer being written: members in order."""

    members: list[tuple[tarfile.TarInfo, bytes | None]] = field(default_factory=list)

    def file(self, path: str, content: bytes | str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> LayerBuilder:
        """Add a regular file."""
        data = content.encode() if isinstance(content, str) else content
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
        self.members.append((info, data))
        return self

    def directory(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> LayerBuilder:
        """Add a directory."""
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
        self.members.append((info, None))
        return self

    def symlink(self, path: str, target: str) -> LayerBuilder:
        """Add a symbolic link."""
        info = tarfile.TarInfo(path.lstrip("/"))
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        self.members.append((info, None))
        return self

    def whiteout(self, path: str) -> LayerBuilder:
        """Delete ``path`` (file or directory) of lower layers (``.wh.<name>``)."""
        directory, _, name = path.lstrip("/").rpartition("/")
        return self.file(f"{directory}/.wh.{name}" if directory else f".wh.{name}", b"", mode=0o600)

    def opaque(self, directory: str) -> LayerBuilder:
        """Hide everything lower layers put in ``directory`` (``.wh..wh..opq``)."""
        return self.file(f"{directory.strip('/')}/.wh..wh..opq", b"", mode=0o600)

    def write(self, folder: Path, name: str) -> tuple[str, Path]:
        """Write the layer tar into ``folder``; return (``sha256:<hex>``, path)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            for info, data in self.members:
                archive.addfile(info, io.BytesIO(data) if data is not None else None)
        raw = buffer.getvalue()
        path = folder / f"{name}.tar"
        path.write_bytes(raw)
        return "sha256:" + hashlib.sha256(raw).hexdigest(), path
