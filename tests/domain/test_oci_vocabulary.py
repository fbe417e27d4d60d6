"""The one OCI vocabulary: where the registry's and the client's manifest parsers disagreed, the
stricter check is kept; platforms, image configs, platform selection and the severity scale."""

from __future__ import annotations

import json

import pytest

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import SCHEMA1, ImageIndex, ImageManifest, parse_manifest, select_platforms
from moorage.domain.oci_config import parse_config
from moorage.domain.oci_platform import Platform
from moorage.domain.security import SeverityLevel, level_for
from moorage.domain.severity import Severity, severity_at_least, severity_rank
from tests.domain.oci_cases import CHILD, RECONCILED, Reconciled, image_index, image_manifest


@pytest.mark.parametrize("case", RECONCILED, ids=lambda c: c.name)
def test_the_stricter_check_is_kept(case: Reconciled) -> None:
    payload, content_type = case.document()
    with pytest.raises(ManifestInvalid) as refused:
        parse_manifest(payload, content_type)
    assert case.reason in refused.value.message


def test_the_valid_documents_of_the_table_parse() -> None:
    assert isinstance(parse_manifest(json.dumps(image_manifest()).encode(), mt.OCI_MANIFEST), ImageManifest)
    assert isinstance(parse_manifest(json.dumps(image_index()).encode(), mt.OCI_INDEX), ImageIndex)


def test_the_client_size_bound_is_a_parser_bound() -> None:
    """The client refused documents past 4 MiB before parsing; the registry bounded the request
    body instead. The parser takes the bound: the client passes it, the registry its setting."""
    payload = json.dumps(image_manifest()).encode()
    assert parse_manifest(payload, mt.OCI_MANIFEST, max_bytes=len(payload)).layers
    with pytest.raises(ManifestInvalid, match="too large"):
        parse_manifest(payload, mt.OCI_MANIFEST, max_bytes=len(payload) - 1)


@pytest.mark.parametrize("index", [False, True])
def test_application_json_without_media_type_is_told_apart_by_its_fields(index: bool) -> None:
    """The one difference resolved the registry's way (the client refused it): a document without
    ``mediaType`` served or pushed as ``application/json`` is an OCI index when it lists
    ``manifests``, else an OCI image manifest. Refusing it would refuse pushes the registry takes."""
    doc = image_index() if index else image_manifest()
    del doc["mediaType"]
    parsed = parse_manifest(json.dumps(doc).encode(), "application/json")
    assert parsed.media_type == (mt.OCI_INDEX if index else mt.OCI_MANIFEST)


@pytest.mark.parametrize(
    ("doc", "content_type"),
    [
        ({"schemaVersion": 1, "name": "x", "fsLayers": []}, "application/json"),
        (image_manifest(), mt.DOCKER_SCHEMA1_SIGNED),
        (image_manifest(), mt.DOCKER_SCHEMA1),
    ],
)
def test_schema1_refusals_say_so_in_their_reason(doc: dict[str, object], content_type: str) -> None:
    with pytest.raises(ManifestInvalid) as refused:
        parse_manifest(json.dumps(doc).encode(), content_type)
    assert refused.value.reason == SCHEMA1


def test_platform_parse_match_and_machine() -> None:
    assert Platform.parse("linux/arm/v7") == Platform("linux", "arm", "v7")
    assert str(Platform.parse(" linux/amd64 ")) == "linux/amd64"
    for bad in ("linux", "linux//v7", "a/b/c/d", ""):
        with pytest.raises(ValueError, match="os/arch"):
            Platform.parse(bad)
    assert Platform("linux", "arm64", "v8").matches(Platform("linux", "arm64"))
    assert not Platform("linux", "arm", "v6").matches(Platform("linux", "arm", "v7"))
    assert not Platform("linux", "arm64").matches(Platform("windows", "arm64"))
    assert Platform.for_machine("x86_64") == Platform("linux", "amd64")
    assert Platform.for_machine("armv7l") == Platform("linux", "arm", "v7")
    assert Platform.for_machine("mips64") == Platform("linux", "mips64")


def test_platform_json() -> None:
    windows = {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1", "os.features": ["win32k"]}
    found = Platform.from_json(windows)
    assert found is not None and found.to_json() == windows
    assert found == Platform("windows", "amd64"), "the OS version refines a platform, it does not make another"
    assert Platform.from_json({"os": "linux", "architecture": "arm", "variant": None}) == Platform("linux", "arm")
    assert Platform.from_json({"os": "linux", "architecture": "arm", "os.version": 5}) == Platform("linux", "arm")
    for incomplete in (
        {},
        {"os": "linux"},
        {"os": "linux", "architecture": 64},
        {"os": "linux", "architecture": "arm", "variant": 7},
    ):
        assert Platform.from_json(incomplete) is None


def test_an_incomplete_platform_is_kept_out_of_the_typed_descriptor() -> None:
    doc = image_index()
    doc["manifests"][0]["platform"] = {"os": "linux"}
    (child,) = parse_manifest(json.dumps(doc).encode(), mt.OCI_INDEX).manifests
    assert child.platform is None and "platform" not in child.to_json()


def _entry(platform: dict[str, str] | None, media_type: str = mt.OCI_MANIFEST, seed: bytes = b"") -> dict[str, object]:
    out: dict[str, object] = {
        "mediaType": media_type,
        "digest": str(Digest.of(json.dumps(platform).encode() + seed)),
        "size": 1,
    }
    if platform is not None:
        out["platform"] = platform
    return out


def test_select_platforms() -> None:
    entries = [
        _entry({"os": "linux", "architecture": "arm", "variant": "v7"}),
        _entry({"os": "linux", "architecture": "arm"}),
        _entry({"os": "linux", "architecture": "amd64"}),
        _entry({"os": "unknown", "architecture": "unknown"}),  # a build attestation
        _entry(None),
        _entry({"os": "linux", "architecture": "amd64"}, media_type=mt.OCI_INDEX, seed=b"nested"),
    ]
    index = parse_manifest(json.dumps({"schemaVersion": 2, "manifests": entries}).encode(), mt.OCI_INDEX)
    assert isinstance(index, ImageIndex)
    assert [str(d.platform) for d in select_platforms(index, None)] == ["linux/arm/v7", "linux/arm", "linux/amd64"]
    assert [str(d.platform) for d in select_platforms(index, Platform("linux", "arm"))] == [
        "linux/arm",
        "linux/arm/v7",
    ], "the exact match first"
    assert select_platforms(index, Platform("linux", "s390x")) == []


def test_image_config() -> None:
    config = {
        "os": "linux",
        "architecture": "arm64",
        "variant": "v8",
        "rootfs": {"diff_ids": ["sha256:a"]},
        "history": [{"created_by": "RUN x"}, "not an entry"],
    }
    parsed = parse_config(json.dumps(config).encode())
    assert parsed.platform == Platform("linux", "arm64", "v8")
    assert parsed.diff_ids == ("sha256:a",) and parsed.history == ({"created_by": "RUN x"},)
    assert parsed.raw == config
    assert parse_config(b"{}").platform is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[]", "image config must be a JSON object"),
        (b"{", "image config is not valid JSON"),
        (b'{"rootfs": {"diff_ids": "sha256:a"}}', "rootfs.diff_ids"),
        (b'{"rootfs": {"diff_ids": [1]}}', "rootfs.diff_ids"),
        (b'{"history": {"created_by": "x"}}', "history"),
        (b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", "image config is JSON nested deeper than 64"),
    ],
)
def test_image_config_refusals(raw: bytes, reason: str) -> None:
    with pytest.raises(ManifestInvalid, match=reason):
        parse_config(raw)


def test_image_config_size_bound() -> None:
    with pytest.raises(ManifestInvalid, match=r"image config is too large: .* larger than 8"):
        parse_config(b'{"os": "linux"}', max_bytes=8)


def test_one_severity_scale() -> None:
    """The registry ranked stored severity words with its own tuple; the scanner's enum is now the
    one scale, and a stored word ranks as it did: its position, or lowest when it is no value."""
    assert [s.value for s in sorted(Severity, key=lambda s: s.rank)] == [
        "unknown",
        "negligible",
        "low",
        "medium",
        "high",
        "critical",
    ]
    assert [severity_rank(s.value) for s in Severity] == list(range(6))
    assert severity_rank("HIGH") == severity_rank("bogus") == 0, "stored words are values, compared exactly"
    assert severity_at_least("critical", "high") and severity_at_least("high", "high")
    assert not severity_at_least("medium", "high")
    assert not severity_at_least("critical", "severe"), "a threshold that is no severity lets nothing through"
    assert severity_at_least("bogus", "unknown")
    assert level_for(["low", "high"]) is SeverityLevel.HIGH
    assert level_for(["medium", "negligible"]) is SeverityLevel.MEDIUM
    assert level_for(["unknown"]) is SeverityLevel.LOW
    assert level_for([]) is SeverityLevel.SECURITY


def test_descriptor_json_keeps_urls_and_platform() -> None:
    foreign = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": str(Digest.of(b"win")),
        "size": 3,
        "urls": ["https://example.com/layer"],
    }
    doc = image_manifest()
    doc["layers"].append(foreign)
    parsed = parse_manifest(json.dumps(doc).encode(), mt.OCI_MANIFEST)
    assert parsed.layers[1].to_json() == foreign
    index = parse_manifest(json.dumps(image_index()).encode(), mt.OCI_INDEX)
    assert index.manifests[0].to_json() == CHILD
