"""Small generated archives that inflate (or claim to inflate) to a lot: decompression bombs for
the scanner's hostile-input tests. Nothing here is committed as a blob; each builder writes bytes
in well under a second.

* gzip: one deflate stream of zeros built from a repeated, byte-aligned piece (a full flush resets
  the compressor, so every megabyte of zeros compresses to the same ~1 KiB) - about 1,000:1.
* zstd: one frame of RLE blocks (4 bytes for every 128 KiB of zeros) - about 32,000:1.
* tar: headers that declare absurd sizes, and blobs that are sparse files on disk.
* zip: a deflate bomb member, a central directory whose entries overlap on one member, a
  directory that lists more entries than its end record declares, jars nested past any depth.
"""

from __future__ import annotations

import bz2
import hashlib
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
GZIP_PIECE_BYTES = MIB
ZSTD_BLOCK = 128 << 10
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def tar_header(name: str, size: int, mode: int = 0o644) -> bytes:
    """A tar header (pax where needed: sizes past 8 GiB) for a regular file of ``size`` bytes."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    return info.tobuf(format=tarfile.PAX_FORMAT)


def tar_of(members: list[tuple[str, bytes]]) -> bytes:
    """A small ordinary tar."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


Segment = bytes | int
"""Layer content: literal bytes, or a number of MiB of zeros."""


def gzip_zeros(*segments: Segment) -> bytes:
    """One gzip member of the segments (one deflate stream: a reader that inflates a whole input
    chunk at once holds ~1,000 times the chunk). ``gzip_zeros(header, 1024)``: a header and 1 GiB
    of zeros in about 1 MiB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MIB)
    piece = b""
    body: list[bytes] = []
    crc, size = 0, 0
    for segment in segments:
        if isinstance(segment, bytes):
            body.append(compressor.compress(segment) + compressor.flush(zlib.Z_FULL_FLUSH))
            crc, size = zlib.crc32(segment, crc), size + len(segment)
            continue
        if not piece:  # after a full flush every MiB of zeros compresses to the same bytes
            piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
            body.append(piece * segment)
        else:
            body.append(piece * segment)
        for _ in range(segment):
            crc = zlib.crc32(zeros, crc)
        size += segment * MIB
    body.append(compressor.flush())
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + b"".join(body) + struct.pack("<II", crc, size & 0xFFFFFFFF)


def _zstd_block(kind: int, size: int, payload: bytes, last: bool) -> bytes:
    header = (size << 3) | (kind << 1) | int(last)
    return header.to_bytes(3, "little") + payload


def zstd_zeros(*segments: Segment) -> bytes:
    """One zstd frame of the segments: literal bytes as raw blocks, each MiB of zeros as 8 RLE
    blocks of 128 KiB (4 bytes each: about 32,000:1). No content size, no checksum."""
    window_descriptor = bytes([(17 - 10) << 3])  # a 128 KiB window: the largest block size
    frame = [_ZSTD_MAGIC, b"\x00", window_descriptor]
    for segment in segments:
        if isinstance(segment, bytes):
            for start in range(0, len(segment), ZSTD_BLOCK):
                chunk = segment[start : start + ZSTD_BLOCK]
                frame.append(_zstd_block(0, len(chunk), chunk, last=False))
        else:
            frame.append(_zstd_block(1, ZSTD_BLOCK, b"\x00", last=False) * (segment * (MIB // ZSTD_BLOCK)))
    frame.append(_zstd_block(0, 0, b"", last=True))
    return b"".join(frame)


def zstd_large_window(prefix: bytes) -> bytes:
    """A zstd frame that asks for a 2 GiB window (a decoder that honours it allocates 2 GiB)."""
    window_descriptor = bytes([(31 - 10) << 3])
    return _ZSTD_MAGIC + b"\x00" + window_descriptor + _zstd_block(0, len(prefix), prefix, last=True)


def deflate_bomb_member(name: str, inflated: int) -> tuple[zipfile.ZipInfo, bytes]:
    """A zip member of ``inflated`` zero bytes, deflated (about 1,000:1)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MIB)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(inflated, MIB)
    data = piece * whole + compressor.compress(bytes(rest)) + compressor.flush()
    crc = 0
    for _ in range(whole):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.CRC = crc
    info.file_size = inflated
    info.compress_size = len(data)
    return info, data


def bzip2_member(name: str, inflated: int, *, declared: int) -> tuple[zipfile.ZipInfo, bytes]:
    """A bzip2 zip member of ``inflated`` zero bytes that declares ``declared`` bytes."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_BZIP2
    data = bz2.compress(bytes(inflated), 9)
    info.CRC = zlib.crc32(bytes(declared))
    info.file_size = declared
    info.compress_size = len(data)
    return info, data


def zip_with_raw_members(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    """A zip whose members' data are written as given (already compressed)."""
    out = io.BytesIO()
    directory = []
    for info, data in members:
        info.header_offset = out.tell()
        out.write(info.FileHeader(zip64=False))
        out.write(data)
        directory.append(info)
    return out.getvalue() + _central_directory(directory, out.tell())


def _central_directory(members: list[zipfile.ZipInfo], start: int, declared: int | None = None) -> bytes:
    entries = []
    for info in members:
        name = info.filename.encode()
        entries.append(
            struct.pack(
                "<4s4B4HL2L5H2L",
                b"PK\x01\x02",
                20,
                3,
                20,
                0,
                0,
                info.compress_type,
                0,
                0x21,
                info.CRC,
                info.compress_size,
                info.file_size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                info.header_offset,
            )
            + name
        )
    body = b"".join(entries)
    count = len(members) if declared is None else declared
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(body), start, 0)
    return body + end


def overlapping_zip(member_name: str, copies: int, inflated: int) -> bytes:
    """One deflate member of ``inflated`` bytes and a central directory listing it ``copies`` times
    (every entry points at the same data: the reader inflates it ``copies`` times)."""
    info, data = deflate_bomb_member(member_name, inflated)
    info.header_offset = 0
    local = info.FileHeader(zip64=False) + data
    return local + _central_directory([info] * copies, len(local))


def zip_listing_more_than_declared(entries: int, declared: int) -> bytes:
    """A zip whose end record declares ``declared`` entries while its directory lists ``entries``."""
    info = zipfile.ZipInfo("a.txt", date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.CRC = zlib.crc32(b"")
    info.header_offset = 0
    local = info.FileHeader(zip64=False)
    return local + _central_directory([info] * entries, len(local), declared=declared)


def jar(entries: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An ordinary zip (jar) with the given members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def nested_jars(depth: int) -> bytes:
    """A jar holding a jar holding a jar... ``depth`` levels below the outer one, each with a pom."""
    inner = jar({"META-INF/maven/org.example/level-0/pom.properties": _pom("level-0")})
    for level in range(1, depth + 1):
        inner = jar(
            {
                f"lib/level-{level - 1}.jar": inner,
                f"META-INF/maven/org.example/level-{level}/pom.properties": _pom(f"level-{level}"),
            }
        )
    return inner


def _pom(artifact: str) -> str:
    return f"groupId=org.example\nartifactId={artifact}\nversion=1.0\n"


# -- images -------------------------------------------------------------------------------------

LAYER_MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


def _put(root: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"sha256:{digest}", len(data)


def _put_file(root: Path, source: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while chunk := handle.read(4 * MIB):
            digest.update(chunk)
    target = root / "blobs" / "sha256" / digest.hexdigest()
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)
    return f"sha256:{digest.hexdigest()}", target.stat().st_size


def oci_image(root: Path, layers: list[tuple[bytes | Path, str]]) -> Path:
    """An OCI layout at ``root`` with one linux/amd64 image of the given (blob or blob file,
    compression) layers; returns ``root``. A blob file is moved into the layout (it may be sparse)."""
    root.mkdir(parents=True, exist_ok=True)
    descriptors = []
    for blob, compression in layers:
        digest, size = _put_file(root, blob) if isinstance(blob, Path) else _put(root, blob)
        descriptors.append({"mediaType": LAYER_MEDIA[compression], "digest": digest, "size": size})
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in descriptors]},
        }
    ).encode()
    config_digest, config_size = _put(root, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config_size,
            },
            "layers": descriptors,
        }
    ).encode()
    manifest_digest, manifest_size = _put(root, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": "latest"},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return root


def sparse_tar(path: Path, name: str, size: int, mode: int = 0o644) -> Path:
    """An uncompressed tar at ``path`` with one ``size``-byte member of zeros that takes no disk
    space (the member's data is a hole in the file)."""
    header = tar_header(name, size, mode)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + size + (-size % 512) + 1024)  # data, padding, end blocks
    return path


# -- running the scanner with an address-space limit ---------------------------------------------------


@dataclass(frozen=True)
class LimitedRun:
    """What a ``moorage`` child process did under an address-space limit."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float
    """The child's own peak resident memory (``VmHWM``), -1 when it died before reporting it."""
    seconds: float


_PEAK_REPORTER = """
import atexit, os, runpy, sys

def report_peak():
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(os.environ["MOORAGE_TEST_PEAK_FILE"], "w") as out:
        out.write(peak)

atexit.register(report_peak)
sys.argv = ["moorage", *sys.argv[1:]]
runpy.run_module("moorage", run_name="__main__", alter_sys=True)
"""
"""Runs ``python -m moorage`` and writes the process's VmHWM (KiB) at exit. The peak is read from
/proc, not from wait4's ru_maxrss: that one starts from the RSS the test process had when it
forked the child (hundreds of MiB in a pytest worker), whatever the child used after exec."""


def run_limited(args: list[str], *, address_space_mib: int = 512, timeout: float = 300) -> LimitedRun:
    """``python -m moorage ARGS`` in a child whose address space is capped (``RLIMIT_AS``): an
    allocation past the cap raises MemoryError there instead of swapping the machine. Give
    ``--executor serial`` for images of several layers, so the one measured process reads them."""
    limit = address_space_mib * MIB

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.monotonic()
    with open(os.devnull, "rb") as stdin, _TempText() as out, _TempText() as err, _TempText() as peak:
        env = {**os.environ, "MOORAGE_NO_PROGRESS": "1", "MOORAGE_TEST_PEAK_FILE": peak.name}
        child = subprocess.Popen(
            [sys.executable, "-c", _PEAK_REPORTER, *args],
            stdin=stdin,
            stdout=out.handle,
            stderr=err.handle,
            env=env,
            preexec_fn=cap,
        )
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        reported = Path(peak.name).read_text().strip()
        return LimitedRun(
            returncode=child.returncode,
            stdout=out.read(),
            stderr=err.read(),
            peak_rss_mib=int(reported) / 1024 if reported else -1,
            seconds=time.monotonic() - started,
        )


class _TempText:
    """A named temporary file a child writes to and we read back (no pipe to fill up)."""

    def __enter__(self) -> _TempText:
        import tempfile

        self.handle = tempfile.NamedTemporaryFile()
        self.name = self.handle.name
        return self

    def read(self) -> str:
        self.handle.seek(0)
        return self.handle.read().decode("utf-8", "replace")

    def __exit__(self, *exc: object) -> None:
        self.handle.close()
