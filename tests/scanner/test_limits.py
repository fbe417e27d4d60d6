"""The scan's bounds (``moorage.scanner.limits``): inflating with an output bound, the layer and
image limits (cold and warm), member counts, per-file caps, and every skipped input reported with
its code. The memory side, under an address-space limit, is tests/hostile/test_archives.py."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from moorage.domain.oci_platform import Platform
from moorage.scanner import tarstream
from moorage.scanner.analysis import AnalysisOptions, analyze
from moorage.scanner.analyzers.dpkg import DpkgAnalyzer
from moorage.scanner.cache import DirectoryLayerCache, MemoryLayerCache
from moorage.scanner.cache.codec import decode_files, decode_results, encode_files, encode_results
from moorage.scanner.errors import LimitExceeded
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.interface import JsonValue, LayerPlugin, PartialResult, SkipCode, Skipped
from moorage.scanner.layer_budget import LayerBudget
from moorage.scanner.layers import READER, scan_tar_layer
from moorage.scanner.limits import LimitCode, ScanLimits
from moorage.scanner.sources import OciLayoutSource
from moorage.scanner.tarstream import StreamTooLarge, TarReader
from tests.hostile import archive_bombs as bombs
from tests.scanner.imagebuild import ImageSpec, Layer, LayerBuilder, write_oci_layout

MIB = 1 << 20


class Wants(LayerPlugin):
    """Wants every regular file under /data; records what it was given."""

    version = "1"

    def __init__(self, name: str, cap: int, *, truncated: bool = False, partial: bool = False) -> None:
        self.name = name
        self.max_content_bytes = cap
        self.accepts_truncated = truncated
        self.partial = partial

    def wants(self, entry: FileEntry) -> bool:
        return entry.kind in (FileKind.REGULAR, FileKind.HARDLINK) and entry.path.startswith("/data/")

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue | PartialResult:
        if self.partial:
            return PartialResult(len(content), (Skipped(SkipCode.ARCHIVE_TOO_DEEP, "inner.jar: too deep"),))
        return len(content)


def _opener(blob: bytes):  # type: ignore[no-untyped-def]
    return lambda: io.BytesIO(blob)


def _scan(blob: bytes, plugins: list[LayerPlugin], limits: ScanLimits | None = None):  # type: ignore[no-untyped-def]
    budget = LayerBudget(limits or ScanLimits())
    digest = "sha256:" + "0" * 64
    return scan_tar_layer(_opener(blob), digest=digest, plugins=plugins, verify_digest=False, budget=budget)


def _codes(scan) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return {(e.plugin, e.path, e.code.value) for e in scan.errors}


# -- inflating ---------------------------------------------------------------------------------------


def test_a_gzip_bomb_comes_out_in_bounded_chunks() -> None:
    blob = bombs.gzip_zeros(b"x" * 100, 64)  # 64 MiB out of 64 KiB, one deflate stream
    sizes = [len(chunk) for chunk in tarstream._chunks(io.BytesIO(blob))]
    assert sum(sizes) == 100 + 64 * MIB
    assert max(sizes) <= tarstream.CHUNK


def test_a_zstd_bomb_comes_out_in_bounded_chunks() -> None:
    blob = bombs.zstd_zeros(b"x" * 100, 64)
    sizes = [len(chunk) for chunk in tarstream._chunks(io.BytesIO(blob))]
    assert sum(sizes) == 100 + 64 * MIB and max(sizes) <= tarstream.CHUNK


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(st.one_of(st.binary(max_size=5000), st.integers(0, 300_000).map(bytes)), min_size=1, max_size=4),
    members=st.integers(1, 3),
    chunk=st.sampled_from([512, 4096, 65536]),
)
def test_bounded_inflating_returns_what_gzip_and_zstd_wrote(parts: list[bytes], members: int, chunk: int) -> None:
    """With tiny output bounds, multi-member gzip and zstd still read back byte for byte."""
    data = b"".join(parts)
    original = tarstream.CHUNK
    tarstream.CHUNK = chunk
    try:
        for blob in (
            b"".join(gzip.compress(data, compresslevel=level) for level in [1, 9, 6][:members]),
            b"".join(zstandard.ZstdCompressor().compress(data) for _ in range(members)),
        ):
            chunks = list(tarstream._chunks(io.BytesIO(blob)))
            assert b"".join(chunks) == data * members
            assert all(len(c) <= chunk for c in chunks)
    finally:
        tarstream.CHUNK = original


# -- the tar stream's bound -----------------------------------------------------------------------------


def test_a_header_declaring_more_than_is_left_is_refused_unread() -> None:
    blob = bombs.tar_header("big", 1 << 40) + bytes(1024)
    reader = TarReader(io.BytesIO(blob), threaded=False, max_bytes=10 * MIB)
    with pytest.raises(StreamTooLarge) as refused:
        next(iter(reader))
    assert refused.value.needed > 1 << 40


def test_the_position_counts_every_byte_of_the_stream() -> None:
    tar = bombs.tar_of([("a", b"x" * 700), ("b", b""), ("c", b"y" * 512)])
    reader = TarReader(io.BytesIO(tar), threaded=False, max_bytes=len(tar))
    for member in reader:
        if member.name == "a":
            assert reader.read(100) == b"x" * 100  # the rest of its data is skipped, and counted
    headers, data, end_block = 3 * 512, 1024 + 512, 512
    assert reader.position == headers + data + end_block
    with pytest.raises(StreamTooLarge):
        list(TarReader(io.BytesIO(tar), threaded=False, max_bytes=headers + data))


# -- layer and image limits ------------------------------------------------------------------------------


def test_a_layer_past_its_limit_fails_with_its_code() -> None:
    tar = bombs.tar_of([("data/a", bytes(3000)), ("data/b", bytes(3000))])
    with pytest.raises(LimitExceeded) as refused:
        _scan(tar, [], ScanLimits(max_layer_bytes=4096))
    assert refused.value.code == LimitCode.LAYER_TOO_LARGE == "layer_too_large"
    assert refused.value.setting == "max_layer_bytes" and refused.value.limit == 4096


def test_member_count_and_name_bytes_are_bounded() -> None:
    tar = bombs.tar_of([(f"f{i}", b"") for i in range(11)])
    with pytest.raises(LimitExceeded) as refused:
        _scan(tar, [], ScanLimits(max_layer_members=10))
    assert refused.value.code == "layer_too_many_members"
    long_names = bombs.tar_of([(f"{i}/" + "n" * 1000, b"") for i in range(4)])
    with pytest.raises(LimitExceeded, match="names"):
        _scan(long_names, [], ScanLimits(max_layer_members=10))  # 10 x 256 bytes of names at most
    assert _scan(long_names, [], ScanLimits(max_layer_members=20)).members == 4


def _layout(tmp_path: Path, sizes: list[int]) -> Path:
    layers = [Layer.of(LayerBuilder().file(f"/data/{i}.bin", bytes(size)), "gzip") for i, size in enumerate(sizes)]
    root = tmp_path / "layout"
    write_oci_layout(root, ImageSpec(layers))
    return root


@pytest.mark.parametrize("executor", ["serial", "thread"])
def test_the_image_limit_counts_cached_layers_too(tmp_path: Path, executor: str) -> None:
    root = _layout(tmp_path, [300_000, 300_000, 300_000])
    limits = ScanLimits(max_image_bytes=700_000)
    cache = MemoryLayerCache()
    options = AnalysisOptions(analyzers=(), cache=cache, executor=executor, limits=limits)
    for _ in range(2):  # cold, then with whatever the first run cached
        with OciLayoutSource(root) as source, pytest.raises(LimitExceeded) as refused:
            analyze(source, platform=Platform("linux", "amd64"), options=options)
        assert refused.value.code == "image_too_large"
    wide = AnalysisOptions(analyzers=(), cache=cache, executor=executor, limits=ScanLimits(max_image_bytes=1 << 30))
    with OciLayoutSource(root) as source:
        (result,) = analyze(source, platform=Platform("linux", "amd64"), options=wide)
    assert sum(scan.uncompressed_bytes for scan in result.view.layers) > 900_000


def test_the_image_member_limit(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    write_oci_layout(root, ImageSpec([Layer.of(_many(f"/d{n}", 5), "gzip") for n in range(3)]))
    options = AnalysisOptions(analyzers=(), executor="serial", limits=ScanLimits(max_image_members=14))
    with OciLayoutSource(root) as source, pytest.raises(LimitExceeded) as refused:
        analyze(source, platform=Platform("linux", "amd64"), options=options)
    assert refused.value.code == "image_too_many_members"


def _many(directory: str, count: int) -> LayerBuilder:
    builder = LayerBuilder()
    for index in range(count):
        builder.file(f"{directory}/{index}", b"")
    return builder


# -- per-file bounds and what is skipped -----------------------------------------------------------------


def test_a_plugin_never_gets_a_prefix_it_did_not_accept() -> None:
    """A small-cap plug-in beside a large-cap one used to be handed the first bytes of a file."""
    tar = bombs.tar_of([("data/f", bytes(50))])
    small, large = Wants("small", 10), Wants("large", 100)
    scan = _scan(tar, [small, large])
    assert scan.results == {"small": {}, "large": {"/data/f": 50}}
    assert _codes(scan) == {("small", "/data/f", "file_too_large")}


def test_max_file_bytes_caps_every_plugin_and_says_so() -> None:
    tar = bombs.tar_of([("data/f", bytes(5000))])
    whole, prefix = Wants("whole", 1 << 20), Wants("prefix", 1 << 20, truncated=True)
    scan = _scan(tar, [whole, prefix], ScanLimits(max_file_bytes=1000))
    assert scan.results == {"whole": {}, "prefix": {"/data/f": 1000}}
    assert _codes(scan) == {("whole", "/data/f", "file_too_large"), ("prefix", "/data/f", "file_truncated")}
    assert all("max_file_bytes" in e.message for e in scan.errors)


def test_a_plugins_partial_result_is_kept_with_what_it_left_out() -> None:
    scan = _scan(bombs.tar_of([("data/app.jar", b"zip")]), [Wants("java", 100, partial=True)])
    assert scan.results["java"] == {"/data/app.jar": 3}
    assert _codes(scan) == {("java", "/data/app.jar", "archive_too_deep")}


def _raw_member(name: str, kind: bytes, data: bytes = b"", link: str = "", **pax: str) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data)
    info.linkname = link
    info.pax_headers = pax
    return info.tobuf(format=tarfile.PAX_FORMAT) + data + bytes(-len(data) % 512)


def test_members_the_reader_cannot_use_are_reported() -> None:
    tar = (
        _raw_member("data/" + "n" * 5000, tarfile.REGTYPE, b"long")  # a name past PATH_MAX
        + _raw_member("data/volume", b"V")  # a tape volume header
        + _raw_member("data/sparse", tarfile.REGTYPE, b"map", **{"GNU.sparse.major": "1", "GNU.sparse.minor": "0"})
        + _raw_member("data/link", tarfile.LNKTYPE, link="data/missing")  # a hard link to nothing
        + bytes(1024)
    )
    scan = _scan(tar, [Wants("any", 100)])
    codes = {(e.plugin, e.code.value) for e in scan.errors}
    assert codes == {
        (READER, "path_too_long"),
        (READER, "unsupported"),  # the volume header and the sparse member
        (READER, "link_target_missing"),
    }
    assert len([e for e in scan.errors if e.code is SkipCode.UNSUPPORTED]) == 2
    assert {e.path for e in scan.errors if e.code is SkipCode.LINK_TARGET_MISSING} == {"/data/link"}
    long_name = next(e.path for e in scan.errors if e.code is SkipCode.PATH_TOO_LONG)
    assert len(long_name) < 300  # a hostile name is shortened in the report


def test_a_dpkg_status_past_its_cap_is_reported_with_its_code(tmp_path: Path) -> None:
    """The dpkg status file over the 64 MiB cap (a sparse member: no memory needed to build it)."""
    blob = bombs.sparse_tar(tmp_path / "layer.tar", "var/lib/dpkg/status", 64 * MIB + 1)
    scan = scan_tar_layer(
        lambda: blob.open("rb"), digest="sha256:" + "0" * 64, plugins=[DpkgAnalyzer()], verify_digest=False
    )
    (error,) = scan.errors
    assert (error.plugin, error.path, error.code) == ("dpkg", "/var/lib/dpkg/status", SkipCode.FILE_TOO_LARGE)
    assert "67108865 bytes is larger than the cap of 67108864" in error.message


def test_skips_are_in_the_inventory_errors_cold_and_warm(tmp_path: Path) -> None:
    """The reader's notes and the plug-ins' skips survive the layer cache (directory and memory)."""
    tar = _raw_member("data/volume", b"V") + _raw_member("data/f", tarfile.REGTYPE, bytes(50)) + bytes(1024)
    root = tmp_path / "layout"
    write_oci_layout(root, ImageSpec([Layer(tar, "application/vnd.oci.image.layer.v1.tar", "sha256:" + "1" * 64)]))
    dpkg_like = DpkgAnalyzer()
    for cache in (DirectoryLayerCache(tmp_path / "cache"), MemoryLayerCache()):
        seen = []
        for _ in range(2):
            options = AnalysisOptions(
                analyzers=(dpkg_like,), extra_plugins=(Wants("small", 10),), cache=cache, executor="serial"
            )
            with OciLayoutSource(root) as source:
                (result,) = analyze(source, platform=Platform("linux", "amd64"), options=options)
            seen.append(
                (
                    {(e.analyzer, e.code) for e in result.inventory.errors},
                    {(e.plugin, e.code.value) for scan in result.view.layers for e in scan.errors},
                )
            )
        assert (
            seen[0]
            == seen[1]
            == (
                {(READER, "unsupported")},
                {(READER, "unsupported"), ("small", "file_too_large")},
            )
        ), type(cache).__name__


def test_the_cache_codec_keeps_codes_sizes_and_notes() -> None:
    tar = _raw_member("data/volume", b"V") + _raw_member("data/f", tarfile.REGTYPE, bytes(50)) + bytes(1024)
    scan = _scan(tar, [Wants("small", 10)])
    files = decode_files(encode_files(scan))
    _, errors = decode_results(encode_results(scan, "small"), "small")
    assert (files.uncompressed_bytes, files.members) == (scan.uncompressed_bytes, scan.members)
    assert scan.members == 2 and scan.uncompressed_bytes >= 1536
    assert {(e.plugin, e.code) for e in (*files.errors, *errors)} == {
        (READER, SkipCode.UNSUPPORTED),
        ("small", SkipCode.FILE_TOO_LARGE),
    }


def test_per_file_limits_are_in_the_plugins_cache_keys() -> None:
    plugin = DpkgAnalyzer()
    assert plugin.cache_key == "dpkg@1"
    assert plugin.bound_to(ScanLimits()).cache_key == "dpkg@1"
    assert plugin.bound_to(ScanLimits(max_layer_bytes=10)).cache_key == "dpkg@1"  # whole-image bounds: not cached
    bound = plugin.bound_to(ScanLimits(max_file_bytes=10))
    assert bound.cache_key.startswith("dpkg@1+") and len(bound.cache_key) < 40
    assert plugin.limits == ScanLimits() and bound.limits.max_file_bytes == 10


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_file_bytes"):
        ScanLimits(max_file_bytes=0)


def test_the_hole_of_a_sparse_member_costs_no_disk(tmp_path: Path) -> None:
    path = bombs.sparse_tar(tmp_path / "t.tar", "x", 256 * MIB)
    assert path.stat().st_size > 256 * MIB and os.stat(path).st_blocks * 512 < MIB


def test_an_image_archive_of_too_many_entries_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tarfile keeps an object per entry of a docker or OCI archive: their number is bounded."""
    from moorage.scanner.errors import ImageSourceError
    from moorage.scanner.sources import layout, open_source

    monkeypatch.setattr(layout, "MAX_ARCHIVE_MEMBERS", 10)
    archive = tmp_path / "image.tar"
    archive.write_bytes(bombs.tar_of([("index.json", b"{}"), *((f"blobs/{n}", b"") for n in range(10))]))
    with pytest.raises(ImageSourceError, match="more than 10 entries"):
        open_source(str(archive))


def test_checks_report_what_they_read_in_part(tmp_path: Path) -> None:
    """A 2 MiB sshd_config is read by the baseline check up to its 1 MiB cap (reported); an include
    chain past 8 files, and an include outside the directories the check reads, are not followed
    (reported); a 2 MiB text file is matched by the secret check on its first window only (by
    design: not reported)."""
    from moorage.scanner.scan import ScanOptions, scan

    config = "Include /etc/ssh/sshd_config.d/c1.conf /etc/ssh/custom.conf\n" + "# padding\n" * (200 << 10)
    layer = LayerBuilder().file("/etc/ssh/sshd_config", config).file("/etc/ssh/custom.conf", "PermitRootLogin yes\n")
    for level in range(1, 11):
        layer.file(f"/etc/ssh/sshd_config.d/c{level}.conf", f"Include /etc/ssh/sshd_config.d/c{level + 1}.conf\n")
    layer.file("/srv/notes.txt", "nothing here\n" * (200 << 10))
    root = tmp_path / "layout"
    write_oci_layout(root, ImageSpec([Layer.of(layer, "gzip")]))
    options = ScanOptions(scanners=("secret", "config"), analysis=AnalysisOptions(analyzers=(), executor="serial"))
    with OciLayoutSource(root) as source:
        report = scan(source, options)
    issues = {(i.scanner, i.path, i.code) for i in report.issues}
    assert issues == {
        ("check-filesystem-content", "/etc/ssh/sshd_config", "file_truncated"),
        ("checks", "", "check_incomplete"),
    }
    (incomplete,) = [i for i in report.issues if i.code == "check_incomplete"]
    assert incomplete.message == (
        "baseline: /etc/ssh/sshd_config.d/c9.conf is included more than 8 files deep: not read; /etc/ssh/custom.conf, "
        "included by /etc/ssh/sshd_config, is outside the directories the baseline check reads: not read"
    )
