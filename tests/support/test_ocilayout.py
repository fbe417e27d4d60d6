"""The OCI content builder other suites rely on: deterministic, self-consistent, readable by umoci."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import ocilayout as ol

_SEGMENT = st.text(alphabet="abcxyz019._-", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=4).map("/".join)


def _members(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        return {member.name: member for member in archive.getmembers()}


def _file_contents(tar_bytes: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


@settings(max_examples=60, deadline=None)
@given(files=st.dictionaries(_PATHS, st.binary(max_size=64), min_size=1, max_size=6))
def test_tar_holds_exactly_the_files_given_and_is_deterministic(files: dict[str, bytes]) -> None:
    ancestors = {path.rsplit("/", depth)[0] for path in files for depth in range(1, path.count("/") + 1)}
    if ancestors & set(files):
        return  # a path cannot be both a file and a directory
    archive = ol.tar_archive(files)
    assert archive == ol.tar_archive(dict(reversed(list(files.items()))))
    assert _file_contents(archive) == files
    members = _members(archive)
    assert all(member.mtime == 0 and member.uid == 0 and member.gid == 0 for member in members.values())
    for path in files:
        for depth in range(1, path.count("/") + 1):
            assert members["/".join(path.split("/")[:depth])].isdir()


def test_paths_are_normalised_and_escapes_refused() -> None:
    members = _members(ol.tar_archive({"/abs/./x": b"1", "./rel/y": b"2"}))
    assert {"abs", "abs/x", "rel", "rel/y"} == set(members)
    with pytest.raises(ValueError, match="escapes"):
        ol.tar_archive({"a/../../etc/passwd": b"x"})
    hostile = _members(ol.tar_archive({"../escape": b"x", "/abs": b"y"}, normalise=False))
    assert set(hostile) == {"../escape", "/abs"}


def test_special_members() -> None:
    members = _members(
        ol.tar_archive(
            {
                "bin/tool": ol.File(b"#!", 0o755),
                "bin/link": ol.Symlink("tool"),
                "bin/hard": ol.Hardlink("bin/tool"),
                "var/empty": ol.Directory(0o700),
            }
        )
    )
    assert members["bin/tool"].mode == 0o755
    assert members["bin/link"].issym() and members["bin/link"].linkname == "tool"
    assert members["bin/hard"].islnk() and members["bin/hard"].linkname == "bin/tool"
    assert members["var/empty"].isdir() and members["var/empty"].mode == 0o700


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_layer_compression_and_diff_id(compression: ol.Compression) -> None:
    files = {"etc/hostname": b"test\n"}
    built = ol.layer(files, compression=compression)
    tar = ol.tar_archive(files)
    if compression == "gzip":
        assert gzip.decompress(built.blob.data) == tar
        assert built.blob.media_type == ol.OCI_LAYER_GZIP
    elif compression == "zstd":
        assert zstandard.ZstdDecompressor().decompressobj().decompress(built.blob.data) == tar
        assert built.blob.media_type == ol.OCI_LAYER_ZSTD
    else:
        assert built.blob.data == tar
    assert built.diff_id == ol.digest_of(tar)
    assert ol.layer(files, compression=compression) == built


def test_image_manifest_and_config_agree() -> None:
    image = ol.image([{"a": b"1"}, {"b": b"2"}], architecture="arm64", variant="v8")
    manifest = image.document()
    config = json.loads(image.config.data)
    assert manifest["config"] == image.config.descriptor()
    assert [layer["digest"] for layer in manifest["layers"]] == [blob.digest for blob in image.layers]
    expected_diff_ids = [ol.digest_of(ol.tar_archive(files)) for files in ({"a": b"1"}, {"b": b"2"})]
    assert config["rootfs"]["diff_ids"] == expected_diff_ids
    assert image.descriptor()["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}
    docker = ol.image([{"a": b"1"}], flavour="docker")
    assert docker.manifest.media_type == ol.DOCKER_MANIFEST
    assert docker.layers[0].media_type == ol.DOCKER_LAYER_GZIP
    assert ol.image([{"a": b"1"}], algorithm="sha512").digest.startswith("sha512:")


def test_artifact_and_index_shapes() -> None:
    subject = ol.image([{"s": b"s"}])
    empty = ol.artifact("application/vnd.example", subject=subject, annotations={"k": "v"})
    document = empty.document()
    assert document["artifactType"] == "application/vnd.example"
    assert document["config"] == ol.empty_config().descriptor()
    assert document["layers"] == [ol.empty_config().descriptor()]
    assert document["subject"] == subject.descriptor()
    children = ol.platform_images([("linux", "amd64", None), ("linux", "arm64", None)])
    nested = ol.index([ol.index(children), children[0]])
    assert nested.manifests()[-1] == nested.manifest
    assert [m.digest for m in nested.manifests()] == [
        children[0].digest,
        children[1].digest,
        nested.children[0].digest,
        nested.digest,
    ]
    assert len({blob.digest for blob in nested.blobs()}) == len(nested.blobs())


def test_layout_round_trip_and_corruption_is_detected(tmp_path: Path) -> None:
    idx = ol.index(ol.platform_images([("linux", "amd64", None), ("linux", "s390x", None)]))
    extra = ol.artifact("application/vnd.example.sig", subject=idx)
    ol.write_layout(tmp_path / "layout", {"multi": idx}, extra=[extra])
    content = ol.read_layout(tmp_path / "layout")
    assert content.ref("multi")["digest"] == idx.digest
    assert content.reachable(idx.digest) == {b.digest for b in (*idx.blobs(), *idx.manifests())}
    assert extra.digest in content.blobs
    with pytest.raises(KeyError):
        content.ref("absent")
    victim = tmp_path / "layout" / "blobs" / "sha256" / idx.blobs()[0].digest.split(":")[1]
    victim.write_bytes(b"tampered")
    with pytest.raises(ValueError, match="does not match"):
        ol.read_layout(tmp_path / "layout")


@pytest.mark.requires_tool("umoci")
def test_umoci_unpacks_the_layout(tmp_path: Path) -> None:
    image = ol.image(
        [
            {"etc/a.txt": b"A", "bin/tool": ol.File(b"#!/bin/sh\n", 0o755), "bin/link": ol.Symlink("tool")},
            {"etc/b.txt": b"B", "etc/.wh.a.txt": b""},
        ]
    )
    ol.write_layout(tmp_path / "layout", {"v1": image})
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'layout'}:v1", str(bundle)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    rootfs = bundle / "rootfs"
    assert (rootfs / "etc" / "b.txt").read_bytes() == b"B"
    assert not (rootfs / "etc" / "a.txt").exists()  # whited out by the second layer
    assert (rootfs / "bin" / "tool").stat().st_mode & 0o777 == 0o755
    assert (rootfs / "bin" / "link").readlink() == Path("tool")
