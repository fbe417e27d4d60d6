"""Throughput of the secret and YARA (malware) file checks over a Debian root filesystem.

Reads the cached debootstrap bookworm minbase tar (see tests/scanner/checks/debian_rootfs.py;
built on first use) into memory once, then times each check alone over every file it wants,
best of ``--repeat`` runs, and prints MB/s over the bytes the check was given. Layer reading and
decompression are not included: they belong to the layer reader.

    PYTHONPATH=src python bench/scanner_checks_throughput.py [--repeat 3] [--tar PATH]
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import time
from pathlib import Path

from moorage.scanner.checks import MalwareCheck, SecretCheck
from moorage.scanner.checks.interface import FileCheck
from moorage.scanner.files import FileEntry, FileKind

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.scanner.checks.debian_rootfs import bookworm_minbase_tar
from tests.scanner.checks.driver import normalise


def load(tar_path: Path) -> list[tuple[FileEntry, bytes]]:
    """Every regular file of the tar with its bytes."""
    files: list[tuple[FileEntry, bytes]] = []
    with tarfile.open(tar_path) as archive:
        for member in archive:
            if not member.isreg():
                continue
            reader = archive.extractfile(member)
            data = reader.read() if reader is not None else b""
            path = normalise(member.name)
            files.append((FileEntry(path, FileKind.REGULAR, len(data), member.mode, layer_digest="bench"), data))
    return files


def measure(check: FileCheck, files: list[tuple[FileEntry, bytes]], repeat: int) -> tuple[int, int, int, float, int]:
    """(files wanted, bytes given, text bytes given, best seconds, findings) of one check."""
    wanted = [(entry, data[: check.max_bytes]) for entry, data in files if check.wants(entry)]
    given = sum(len(data) for _, data in wanted)
    text = sum(len(data) for _, data in wanted if b"\x00" not in data[:8192])
    best, found = float("inf"), 0
    for _ in range(repeat):
        started = time.perf_counter()
        found = sum(len(check.check(entry, data)) for entry, data in wanted)
        best = min(best, time.perf_counter() - started)
    return len(wanted), given, text, best, found


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tar", type=Path, default=None)
    args = parser.parse_args()
    tar_path = args.tar or bookworm_minbase_tar()
    files = load(tar_path)
    total = sum(len(data) for _, data in files)
    print(f"root filesystem: {tar_path.name}: {len(files)} regular files, {total / 1e6:.1f} MB")
    for check in (SecretCheck(), MalwareCheck()):
        count, given, text, seconds, found = measure(check, files, args.repeat)
        print(
            f"{check.name:8} {count:5} files, {given / 1e6:6.1f} MB given ({text / 1e6:5.1f} MB text), "
            f"{seconds:5.2f} s: {given / 1e6 / seconds:6.1f} MB/s given, "
            f"{text / 1e6 / seconds:6.1f} MB/s of text, {total / 1e6 / seconds:6.1f} MB/s of the rootfs; "
            f"{found} findings"
        )


if __name__ == "__main__":
    main()
