"""Layer semantics: compression, whiteouts, opaque directories, upper-layer replacement, links."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from moorage.scanner.analyzers.dpkg import DpkgAnalyzer
from moorage.scanner.analyzers.os_release import OsReleaseAnalyzer
from moorage.scanner.analyzers.python import PythonAnalyzer
from moorage.scanner.errors import DigestMismatch, LayerError
from moorage.scanner.files import FileEntry, FileKind
from moorage.scanner.flatten import FlatView
from moorage.scanner.interface import JsonValue, LayerPlugin
from moorage.scanner.inventory import Ecosystem
from moorage.scanner.layers import normalize_path, resolve_link_target, scan_tar_layer
from tests.scanner.helpers import analyze_layers, by_name
from tests.scanner.imagebuild import Layer, LayerBuilder, compress

STATUS_V1 = """Package: libfoo
Status: install ok installed
Version: 1.0-1
Architecture: amd64

Package: bar
Status: install ok installed
Version: 2.0-1
Architecture: all
"""
STATUS_V2 = """Package: libfoo
Status: install ok installed
Version: 1.1-1
Architecture: amd64
"""


def _dist_info(name: str, version: str) -> tuple[str, str]:
    return (
        f"/usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA",
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    )


class Recorder(LayerPlugin):
    """Keeps the size of every file under /data, to observe exactly what the pass feeds."""

    name = "recorder"
    version = "1"
    max_content_bytes = 16

    def wants(self, entry: FileEntry) -> bool:
        return entry.path.startswith("/data/")

    def extract(self, entry: FileEntry, content: bytes) -> JsonValue:
        return {"len": len(content), "kind": entry.kind.value, "text": content.decode()}


class TruncatingRecorder(Recorder):
    name = "recorder-trunc"
    accepts_truncated = True


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_every_compression_reads_the_same(tmp_path: Path, compression: str) -> None:
    path, text = _dist_info("requests", "2.31.0")
    result = analyze_layers(
        tmp_path, [LayerBuilder().file(path, text)], compression=compression, analyzers=[PythonAnalyzer()]
    )
    assert [(p.name, p.version) for p in result.inventory.packages] == [("requests", "2.31.0")]


def test_whiteout_removes_a_package_of_a_lower_layer(tmp_path: Path) -> None:
    keep, keep_text = _dist_info("keep", "1.0")
    gone, gone_text = _dist_info("gone", "1.0")
    lower = LayerBuilder().file(keep, keep_text).file(gone, gone_text)
    upper = LayerBuilder().whiteout(gone.rsplit("/", 1)[0])
    result = analyze_layers(tmp_path, [lower, upper], analyzers=[PythonAnalyzer()])
    assert [p.name for p in result.inventory.packages] == ["keep"]


def test_opaque_directory_hides_lower_contents_but_keeps_its_own(tmp_path: Path) -> None:
    old, old_text = _dist_info("old", "1.0")
    new, new_text = _dist_info("new", "2.0")
    lower = LayerBuilder().file(old, old_text)
    upper = LayerBuilder().opaque("/usr/lib/python3/site-packages").file(new, new_text)
    result = analyze_layers(tmp_path, [lower, upper], analyzers=[PythonAnalyzer()])
    assert [p.name for p in result.inventory.packages] == ["new"]


def test_file_replacing_a_directory_hides_what_was_below(tmp_path: Path) -> None:
    old, old_text = _dist_info("old", "1.0")
    lower = LayerBuilder().file(old, old_text)
    upper = LayerBuilder().file("/usr/lib/python3", "now a file")
    result = analyze_layers(tmp_path, [lower, upper], analyzers=[PythonAnalyzer()])
    assert result.inventory.packages == ()


def test_package_upgraded_in_upper_layer_is_reported_as_upper_has_it(tmp_path: Path) -> None:
    base = Layer.of(LayerBuilder().file("/var/lib/dpkg/status", STATUS_V1))
    upgrade = Layer.of(LayerBuilder().file("/var/lib/dpkg/status", STATUS_V2))
    result = analyze_layers(tmp_path, [base, upgrade], analyzers=[OsReleaseAnalyzer(), DpkgAnalyzer()])
    debs = by_name(result.inventory.packages, Ecosystem.DEB)
    assert set(debs) == {"libfoo"}, "bar was removed by the upgrade layer's status file"
    assert debs["libfoo"].version == "1.1-1"
    assert debs["libfoo"].layer_digest == upgrade.digest


def test_unchanged_package_keeps_the_layer_that_introduced_it(tmp_path: Path) -> None:
    base = Layer.of(LayerBuilder().file("/var/lib/dpkg/status", STATUS_V1))
    more = STATUS_V1 + "\nPackage: extra\nStatus: install ok installed\nVersion: 3\nArchitecture: all\n"
    upper = Layer.of(LayerBuilder().file("/var/lib/dpkg/status", more))
    result = analyze_layers(tmp_path, [base, upper], analyzers=[OsReleaseAnalyzer(), DpkgAnalyzer()])
    debs = by_name(result.inventory.packages, Ecosystem.DEB)
    assert debs["libfoo"].layer_digest == base.digest
    assert debs["extra"].layer_digest == upper.digest


def test_status_file_deleted_in_upper_layer_reports_nothing(tmp_path: Path) -> None:
    base = LayerBuilder().file("/var/lib/dpkg/status", STATUS_V1)
    upper = LayerBuilder().whiteout("/var/lib/dpkg")
    result = analyze_layers(tmp_path, [base, upper], analyzers=[OsReleaseAnalyzer(), DpkgAnalyzer()])
    assert result.inventory.packages == ()


def test_symlink_outside_the_root_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "host-os-release").write_text('ID=hostile\nVERSION_ID="666"\n')
    layer = (
        LayerBuilder()
        .file("/usr/lib/os-release", "ID=alpine\nVERSION_ID=3.19.1\n")
        .symlink("/etc/os-release", f"../../../../../../..{tmp_path}/host-os-release")
    )
    result = analyze_layers(tmp_path, [layer], analyzers=[OsReleaseAnalyzer()])
    distro = result.inventory.distro
    assert distro is not None and distro.id == "alpine", "the dangling link falls back to /usr/lib/os-release"


def test_symlink_inside_the_root_is_followed_in_the_flattened_view(tmp_path: Path) -> None:
    layer = (
        LayerBuilder()
        .file("/usr/lib/os-release", 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
        .symlink("/etc/os-release", "../usr/lib/os-release")
    )
    upper = LayerBuilder().file("/usr/lib/os-release", 'ID=ubuntu\nVERSION_ID="22.04"\n')
    result = analyze_layers(tmp_path, [layer, upper], analyzers=[OsReleaseAnalyzer()])
    assert result.inventory.distro is not None
    assert (result.inventory.distro.id, result.inventory.distro.version_id) == ("ubuntu", "22.04")


def test_path_normalisation_never_climbs_above_root() -> None:
    assert normalize_path("../../etc/passwd") == "/etc/passwd"
    assert normalize_path("./a/./b/../c/") == "/a/c"
    assert resolve_link_target("/etc/os-release", "../../../../x") == "/x"
    assert resolve_link_target("/a/b/link", "/abs/t") == "/abs/t"


def test_tar_member_with_dotdot_lands_inside_the_image(tmp_path: Path) -> None:
    layer = LayerBuilder().file("/data/ok", "fine")
    tar = layer.tar_bytes()
    import tarfile

    buffer = io.BytesIO(tar[:-1024])  # reopen to append a hostile name
    with tarfile.open(fileobj=buffer, mode="a") as archive:
        info = tarfile.TarInfo("../../../data/escape")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    scan = scan_tar_layer(lambda: io.BytesIO(buffer.getvalue()), digest="x", plugins=[Recorder()])
    assert set(scan.results["recorder"]) == {"/data/ok", "/data/escape"}


def test_hardlink_content_is_the_target_even_when_target_was_not_wanted() -> None:
    tar = LayerBuilder().file("/other/target", "linked!").hardlink("/data/link", "/other/target").tar_bytes()
    scan = scan_tar_layer(lambda: io.BytesIO(tar), digest="x", plugins=[Recorder()])
    assert scan.results["recorder"]["/data/link"] == {"len": 7, "kind": "hardlink", "text": "linked!"}


def test_size_cap_skips_or_truncates_as_the_plugin_asks() -> None:
    tar = LayerBuilder().file("/data/big", "x" * 100).file("/data/small", "tiny").tar_bytes()
    scan = scan_tar_layer(lambda: io.BytesIO(tar), digest="x", plugins=[Recorder(), TruncatingRecorder()])
    assert "/data/big" not in scan.results["recorder"]
    assert any(e.plugin == "recorder" and e.path == "/data/big" and "cap" in e.message for e in scan.errors)
    assert scan.results["recorder-trunc"]["/data/big"] == {"len": 16, "kind": "file", "text": "x" * 16}
    assert scan.results["recorder"]["/data/small"]["len"] == 4  # type: ignore[index]


def test_digest_mismatch_is_refused() -> None:
    blob = compress(LayerBuilder().file("/data/a", "a").tar_bytes(), "gzip")
    with pytest.raises(DigestMismatch):
        scan_tar_layer(lambda: io.BytesIO(blob), digest="sha256:" + "0" * 64, plugins=[Recorder()])


@pytest.mark.parametrize("junk", [b"", b"not a tar at all" * 100, b"\x1f\x8b\x08garbage", b"\x28\xb5\x2f\xfdjunk"])
def test_garbage_layers_raise_layer_error(junk: bytes) -> None:
    try:
        scan = scan_tar_layer(lambda: io.BytesIO(junk), digest="x", plugins=[Recorder()])
    except LayerError:
        return
    assert scan.entries == ()  # an empty stream is an empty layer


def test_checks_see_files_deleted_later_marked_as_such() -> None:
    tars = [
        LayerBuilder().file("/data/secret", "s3cr3t").file("/data/kept", "k").tar_bytes(),
        LayerBuilder().whiteout("/data/secret").tar_bytes(),
    ]
    flat = FlatView(
        [scan_tar_layer(lambda t=t: io.BytesIO(t), digest=f"l{i}", plugins=[Recorder()]) for i, t in enumerate(tars)]
    )
    marks = {(r.path, r.layer_index): r.deleted_later for r in flat.layer_results()}
    assert marks == {("/data/secret", 0): True, ("/data/kept", 0): False}
    assert "/data/secret" not in flat.files and flat.files["/data/kept"].entry.kind is FileKind.REGULAR


def test_file_replaced_by_upper_layer_is_deleted_later_for_the_lower_copy() -> None:
    tars = [
        LayerBuilder().file("/data/conf", "old").tar_bytes(),
        LayerBuilder().file("/data/conf", "new").tar_bytes(),
    ]
    flat = FlatView(
        [scan_tar_layer(lambda t=t: io.BytesIO(t), digest=f"l{i}", plugins=[Recorder()]) for i, t in enumerate(tars)]
    )
    marks = {r.layer_index: (r.deleted_later, r.value) for r in flat.layer_results()}
    assert marks[0][0] is True and marks[1] == (False, {"len": 3, "kind": "file", "text": "new"})
