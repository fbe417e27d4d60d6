"""A root filesystem directory scanned as if it were one layer (``moorage scan`` of an unpacked
image, the scanner's tests): the same plug-in pass as a tar layer's (``layers.PluginPass``), over a
walk of the directory instead of a tar stream."""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Sequence

from moorage.scanner.errors import LayerError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import LayerPlugin, SkipCode
from moorage.scanner.layer_budget import LayerBudget, MemberCount
from moorage.scanner.layers import LayerScan, PluginPass


def scan_directory(
    root: str, *, digest: str, plugins: Sequence[LayerPlugin], budget: LayerBudget | None = None
) -> LayerScan:
    """Run the plug-ins over a root filesystem directory as if it were one layer.

    Symbolic links are recorded, never followed; files are opened with ``O_NOFOLLOW`` so a link
    swapped in during the walk cannot lead outside ``root``. The member bounds apply; nothing is
    inflated, so the byte bounds do not.
    """
    budget = budget or LayerBudget()
    state = PluginPass(plugins, digest, budget.limits)
    entries: list[FileEntry] = []
    count = MemberCount(budget, digest)
    seen_inodes: dict[tuple[int, int], str] = {}
    if not os.path.isdir(root):
        raise LayerError(f"{root} is not a directory")
    stack = [(root, "/")]
    while stack:
        real_dir, image_dir = stack.pop()
        try:
            listing = sorted(os.scandir(real_dir), key=lambda d: d.name)
        except OSError as exc:
            state.skip(image_dir, SkipCode.UNREADABLE, f"cannot list: {exc}")
            continue
        for item in listing:
            image_path = posixpath.join(image_dir, item.name)
            count.add(image_path)
            try:
                st = item.stat(follow_symlinks=False)
            except OSError as exc:
                state.skip(image_path, SkipCode.UNREADABLE, f"cannot stat: {exc}")
                continue
            entry = _entry_from_stat(image_path, st, item.path, digest)
            if entry is None:
                if not stat.S_ISSOCK(st.st_mode):
                    state.skip(image_path, SkipCode.UNREADABLE, "cannot read the link or the file type: skipped")
                continue
            if entry.kind is FileKind.REGULAR and st.st_nlink > 1:
                first = seen_inodes.setdefault((st.st_dev, st.st_ino), image_path)
                if first != image_path:
                    entry = FileEntry(
                        entry.path,
                        FileKind.HARDLINK,
                        entry.size,
                        entry.mode,
                        entry.uid,
                        entry.gid,
                        first,
                        digest,
                    )
            entries.append(entry)
            if entry.kind is FileKind.DIRECTORY:
                stack.append((item.path, image_path))
                continue
            if entry.kind not in (FileKind.REGULAR, FileKind.HARDLINK):
                continue
            wanting = state.wanting(entry)
            if not wanting:
                continue
            cap = state.read_cap(entry, wanting)
            try:
                fd = os.open(item.path, os.O_RDONLY | os.O_NOFOLLOW)
                with os.fdopen(fd, "rb") as handle:
                    content = handle.read(cap) if cap else b""
            except OSError as exc:
                state.skip(image_path, SkipCode.UNREADABLE, f"cannot read: {exc}")
                continue
            state.feed(entry, content, wanting)
            del content
    return LayerScan(
        digest=digest,
        entries=tuple(entries),
        results=dict(state.results),
        errors=tuple(state.errors),
        members=count.members,
    )


def _entry_from_stat(image_path: str, st: os.stat_result, real_path: str, digest: str) -> FileEntry | None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        kind, size, link = FileKind.REGULAR, st.st_size, ""
    elif stat.S_ISDIR(mode):
        kind, size, link = FileKind.DIRECTORY, 0, ""
    elif stat.S_ISLNK(mode):
        kind, size = FileKind.SYMLINK, 0
        try:
            link = os.readlink(real_path)
        except OSError:
            return None
    elif stat.S_ISCHR(mode):
        kind, size, link = FileKind.CHAR_DEVICE, 0, ""
    elif stat.S_ISBLK(mode):
        kind, size, link = FileKind.BLOCK_DEVICE, 0, ""
    elif stat.S_ISFIFO(mode):
        kind, size, link = FileKind.FIFO, 0, ""
    else:
        return None
    return FileEntry(
        path=image_path,
        kind=kind,
        size=size,
        mode=stat.S_IMODE(mode),
        uid=st.st_uid,
        gid=st.st_gid,
        link_target=link,
        layer_digest=digest,
    )
