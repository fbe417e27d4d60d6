"""Decompression bombs against the scanner: gzip and zstd layers, tars with absurd or sparse
members, zip bombs in Java archives (nested, overlapping, bz2), and tars of too many names.

Every case runs ``moorage sbom`` (or ``scan``) in a child process whose address space is capped at
512 MiB (``RLIMIT_AS``): a scanner that inflated a bomb into memory would die there with
MemoryError. Each must instead finish with bounded memory, either scanning the image (the bomb is
streamed) or refusing it with a documented code: exit status 3 and a ``moorage-scan-failure/1``
document for a whole-image limit, an entry with a skip code in ``errors`` for a file. The bombs
are generated here (tests/hostile/archive_bombs.py), a few MiB each, never committed.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkhss.v5 import ListRegistryImagesRequest

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, MoorageFactory
from tests.hostile import archive_bombs as bombs
from tests.hostile.archive_bombs import MIB, LimitedRun, run_limited
from tests.hss.support import hss_client, skopeo_env, skopeo_push, wait_for
from tests.support.accounts import Account, create_access_key, project_id

ADDRESS_SPACE_MIB = 512
PEAK_RSS_MIB = 320
"""What a run may reach at most: Python with the scanner's imports takes 60-80 MiB (about 170 for
``scan``, with the checks' compiled rules); the bounded buffers (inflated chunks, the files read)
add the rest. Measured peaks are recorded as ``peak_rss_mib`` test properties."""


def _run(record_property: Any, *args: str) -> LimitedRun:
    run = run_limited(list(args), address_space_mib=ADDRESS_SPACE_MIB)
    record_property("peak_rss_mib", round(run.peak_rss_mib))
    record_property("seconds", round(run.seconds, 1))
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr, run.stderr[-2000:]
    assert 0 < run.peak_rss_mib < PEAK_RSS_MIB, f"peak RSS {run.peak_rss_mib:.0f} MiB"
    return run


def _refused(run: LimitedRun, code: str) -> dict[str, Any]:
    """The failure document of a run refused for ``code`` (exit status 3, an ``error:`` line)."""
    assert run.returncode == 3, (run.returncode, run.stderr[-2000:])
    assert f"error: [{code}]" in run.stderr
    document: dict[str, Any] = json.loads(run.stdout)
    assert document["schema"] == "moorage-scan-failure/1" and document["status"] == "failed"
    assert document["failure"]["code"] == code
    return document


def _inventory(run: LimitedRun) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr[-2000:]
    inventory: dict[str, Any] = json.loads(run.stdout)
    return inventory


def _errors(inventory: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [e for e in inventory["errors"] if e["code"] == code]


def _sbom(image: Path, *options: str) -> list[str]:
    return ["sbom", "--no-cache", "-f", "json", *options, f"oci:{image}"]


# -- gzip and zstd layers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 MiB gzip layer inflating to 1 GiB: one tar member of zeros, then an os-release."""
    header = bombs.tar_header("data/zeros.bin", 1024 * MIB)
    tail = bombs.tar_of([("etc/os-release", b"ID=debian\nVERSION_ID=12\n")])
    layer = bombs.gzip_zeros(header, 1024, tail)
    assert len(layer) < 2 * MIB
    return bombs.oci_image(tmp_path_factory.mktemp("gzip") / "image", [(layer, "gzip")])


def test_a_gzip_bomb_is_inflated_in_bounded_chunks(gzip_bomb: Path, record_property: Any) -> None:
    inventory = _inventory(_run(record_property, *_sbom(gzip_bomb)))
    assert inventory["distro"]["id"] == "debian"  # read to the end: the member after the bomb


def test_a_gzip_bomb_past_the_layer_limit_is_refused_before_it_is_inflated(
    gzip_bomb: Path, record_property: Any
) -> None:
    run = _run(record_property, *_sbom(gzip_bomb, "--max-layer-bytes", "512MiB"))
    document = _refused(run, "layer_too_large")
    limit = {"name": "max_layer_bytes", "value": 512 * MIB, "option": "--max-layer-bytes"}
    assert document["failure"]["limit"] == limit
    assert "--max-layer-bytes" in run.stderr and "decompression bomb" in run.stderr


@pytest.fixture(scope="module")
def gzip_members_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gzip layer of eight 64 MiB members: each header fits the limit, their sum does not."""
    segments: list[bombs.Segment] = []
    for index in range(8):
        segments += [bombs.tar_header(f"data/zeros-{index}.bin", 64 * MIB), 64]
    return bombs.oci_image(tmp_path_factory.mktemp("gzip-members") / "image", [(bombs.gzip_zeros(*segments), "gzip")])


def test_inflated_bytes_are_counted_against_the_layer_limit(gzip_members_bomb: Path, record_property: Any) -> None:
    run = _run(
        record_property,
        "scan", "--no-cache", "-f", "json", "--scanners", "secret,malware,config",
        "--max-layer-bytes", "256MiB", f"oci:{gzip_members_bomb}",
    )  # fmt: skip
    document = _refused(run, "layer_too_large")
    assert document["failure"]["layer_digest"].startswith("sha256:")


@pytest.fixture(scope="module")
def zstd_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zstd layer of ~130 KiB inflating to 4 GiB (four 1 GiB members of zeros)."""
    segments: list[bombs.Segment] = []
    for index in range(4):
        segments += [bombs.tar_header(f"data/zeros-{index}.bin", 1024 * MIB), 1024]
    layer = bombs.zstd_zeros(*segments, bombs.tar_of([("etc/alpine-release", b"3.19.1\n")]))
    assert len(layer) < MIB
    return bombs.oci_image(tmp_path_factory.mktemp("zstd") / "image", [(layer, "zstd")])


def test_a_zstd_bomb_is_inflated_in_bounded_chunks(zstd_bomb: Path, record_property: Any) -> None:
    inventory = _inventory(_run(record_property, *_sbom(zstd_bomb)))
    assert inventory["distro"]["id"] == "alpine"


def test_a_zstd_bomb_past_the_layer_limit_is_refused(zstd_bomb: Path, record_property: Any) -> None:
    _refused(_run(record_property, *_sbom(zstd_bomb, "--max-layer-bytes", "1536MiB")), "layer_too_large")


def test_a_zstd_frame_asking_for_a_huge_window_is_refused_unallocated(tmp_path: Path, record_property: Any) -> None:
    layer = bombs.zstd_large_window(bombs.tar_of([("etc/os-release", b"ID=debian\n")]))
    image = bombs.oci_image(tmp_path / "image", [(layer, "zstd")])
    run = _run(record_property, *_sbom(image))
    assert run.returncode == 2 and "error: [layer_unreadable]" in run.stderr
    assert json.loads(run.stdout)["failure"]["code"] == "layer_unreadable"


# -- tar members ----------------------------------------------------------------------------------------


def test_a_tar_member_declaring_an_absurd_size_is_refused_unread(tmp_path: Path, record_property: Any) -> None:
    header = bombs.tar_header("data/huge.bin", 1 << 60)  # a pax size: 1 EiB
    image = bombs.oci_image(tmp_path / "image", [(header + bytes(4096), "none")])
    document = _refused(_run(record_property, *_sbom(image)), "layer_too_large")
    needed = re.search(r"at least (\d+) bytes", document["failure"]["message"])
    assert needed is not None and int(needed.group(1)) > 1 << 60


def test_a_huge_sparse_member_past_the_layer_limit_is_refused(tmp_path: Path, record_property: Any) -> None:
    blob = bombs.sparse_tar(tmp_path / "layer.tar", "var/lib/big.img", 160 * MIB)
    image = bombs.oci_image(tmp_path / "image", [(blob, "none")])
    _refused(_run(record_property, *_sbom(image, "--max-layer-bytes", "128MiB")), "layer_too_large")


def test_a_sparse_executable_past_the_file_limit_is_skipped_and_reported(tmp_path: Path, record_property: Any) -> None:
    """300 MiB of zeros with an executable bit: the Go and Rust analyzers would read it whole."""
    blob = bombs.sparse_tar(tmp_path / "layer.tar", "usr/bin/tool", 300 * MIB, mode=0o755)
    image = bombs.oci_image(tmp_path / "image", [(blob, "none")])
    inventory = _inventory(_run(record_property, *_sbom(image)))
    skipped = {(e["analyzer"], e["path"]) for e in _errors(inventory, "file_too_large")}
    assert skipped == {("go-binary", "/usr/bin/tool"), ("cargo-auditable", "/usr/bin/tool")}


def test_a_layer_of_too_many_members_is_refused(tmp_path: Path, record_property: Any) -> None:
    tar = bombs.tar_of([(f"f/{index}", b"") for index in range(2001)])
    image = bombs.oci_image(tmp_path / "image", [(bombs.gzip_zeros(tar), "gzip")])
    _refused(_run(record_property, *_sbom(image, "--max-layer-members", "2000")), "layer_too_many_members")


def test_a_layer_of_long_names_is_refused(tmp_path: Path, record_property: Any) -> None:
    """Each name is under the 4,096-byte path limit, but they average far over 256 bytes."""
    tar = bombs.tar_of([(f"{index}/" + "n" * 3000, b"") for index in range(200)])
    image = bombs.oci_image(tmp_path / "image", [(bombs.gzip_zeros(tar), "gzip")])
    document = _refused(_run(record_property, *_sbom(image, "--max-layer-members", "1000")), "layer_too_many_members")
    assert "names" in document["failure"]["message"]


def test_the_image_limit_counts_every_layer_cached_or_not(tmp_path: Path, record_property: Any) -> None:
    layers = [(bombs.gzip_zeros(bombs.tar_header(f"data/{index}.bin", 96 * MIB), 96), "gzip") for index in range(2)]
    image = bombs.oci_image(tmp_path / "image", layers)
    cache = tmp_path / "cache"
    args = [
        "sbom",
        "-f",
        "json",
        "--executor",
        "serial",
        "--cache-dir",
        str(cache),
        "--max-image-bytes",
        "128MiB",
        f"oci:{image}",
    ]
    _refused(_run(record_property, *args), "image_too_large")
    _refused(_run(record_property, *args), "image_too_large")  # the first layer is cached now


# -- Java archives --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def java_bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One image of hostile Java archives, scanned once: the inventory ``moorage sbom`` made."""
    manifest_bomb = bombs.zip_with_raw_members([bombs.deflate_bomb_member("META-INF/MANIFEST.MF", 512 * MIB)])
    war = bombs.jar(
        {
            "WEB-INF/lib/bomb.jar": manifest_bomb,
            "META-INF/maven/org.example/app/pom.properties": "groupId=org.example\nartifactId=app\nversion=1.0\n",
        },
        compression=zipfile.ZIP_STORED,
    )
    bzip2 = bombs.bzip2_member("META-INF/maven/org.example/b/pom.properties", 64 * MIB, declared=100)
    files = {
        "app/app.war": war,  # a zip bomb nested in a war
        "app/over.jar": bombs.overlapping_zip("lib/x.jar", 50, 64 * MIB),  # 3.2 GiB out of 64 KiB
        "app/many.jar": bombs.zip_listing_more_than_declared(150_000, 3),
        "app/deep.jar": bombs.nested_jars(8),
        "app/b.jar": bombs.zip_with_raw_members([bzip2]),
    }
    layer = bombs.gzip_zeros(bombs.tar_of(list(files.items())))
    image = bombs.oci_image(tmp_path_factory.mktemp("java") / "image", [(layer, "gzip")])
    run = run_limited(_sbom(image), address_space_mib=ADDRESS_SPACE_MIB)
    assert "Traceback" not in run.stderr and "MemoryError" not in run.stderr, run.stderr[-2000:]
    return {"run": run, "inventory": _inventory(run)}


def _skips(java_bombs: dict[str, Any], path: str) -> list[tuple[str, str]]:
    return [(e["code"], e["message"]) for e in java_bombs["inventory"]["errors"] if e["path"] == path]


def test_java_bombs_are_read_in_bounded_memory(java_bombs: dict[str, Any], record_property: Any) -> None:
    run: LimitedRun = java_bombs["run"]
    record_property("peak_rss_mib", round(run.peak_rss_mib))
    record_property("seconds", round(run.seconds, 1))
    assert 0 < run.peak_rss_mib < PEAK_RSS_MIB
    packages = sorted(p["name"] for p in java_bombs["inventory"]["packages"])
    assert packages == ["app", *(f"level-{n}" for n in range(4, 9))]


def test_a_zip_bomb_nested_in_a_war_is_skipped_and_reported(java_bombs: dict[str, Any]) -> None:
    ((code, message),) = _skips(java_bombs, "/app/app.war")
    assert code == "archive_too_large" and "bomb.jar!/META-INF/MANIFEST.MF" in message and "zip bomb" in message


def test_overlapping_zip_entries_are_refused(java_bombs: dict[str, Any]) -> None:
    ((code, message),) = _skips(java_bombs, "/app/over.jar")
    assert code == "archive_too_large" and "overlap" in message


def test_a_directory_listing_more_members_than_it_declares_is_refused(java_bombs: dict[str, Any]) -> None:
    ((code, message),) = _skips(java_bombs, "/app/many.jar")
    assert code == "archive_too_large" and "more than 100000 members" in message


def test_jars_nested_past_the_depth_limit_are_reported(java_bombs: dict[str, Any]) -> None:
    ((code, message),) = _skips(java_bombs, "/app/deep.jar")
    assert code == "archive_too_deep"
    assert message.endswith("lib/level-3.jar: nested deeper than 4 archives: not opened")


def test_a_bzip2_member_that_lies_about_its_size_is_not_inflated(java_bombs: dict[str, Any]) -> None:
    """zipfile inflates bzip2 in one call, whatever the output: 64 MiB out of a 100-byte member."""
    ((code, message),) = _skips(java_bombs, "/app/b.jar")
    assert code == "unsupported" and "compression method 12" in message


# -- the registry ----------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.requires_tool("skopeo")
def test_a_pushed_bomb_fails_its_scan_as_image_over_sized(
    tmp_path: Path, moorage_factory: MoorageFactory, gzip_bomb: Path
) -> None:
    """Scan on push of the 1 GiB gzip bomb, with a 256 MiB layer limit: the HSS image list shows a
    failed scan with the documented ``image_over_sized`` code."""
    server = moorage_factory(
        env={"MOORAGE_SCANNER__SCAN_ON_PUSH": "true", "MOORAGE_SCANNER__MAX_LAYER_UNCOMPRESSED_BYTES": str(256 * MIB)}
    )
    admin = Account(ADMIN_USER, ADMIN_PASSWORD, ADMIN_USER)
    client = hss_client(server, (*create_access_key(server, admin), project_id(server)))
    skopeo_push(
        gzip_bomb,
        "latest",
        f"{server.address}/bombs/zeros:v1",
        creds=(ADMIN_USER, ADMIN_PASSWORD),
        env=skopeo_env(tmp_path),
    )

    def scanned() -> object:
        answer = client.list_registry_images(ListRegistryImagesRequest(namespace="bombs"))
        rows = [r for r in answer.data_list if r.scan_status in ("success", "failed")]
        return rows[0] if rows else None

    row: Any = wait_for(scanned, what="the pushed bomb to be scanned")
    assert (row.scan_status, row.scan_failed_code) == ("failed", "image_over_sized"), server.log()[-3000:]
