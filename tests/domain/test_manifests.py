"""Manifest parsing: every kind, every refusal, and arbitrary input never crashing the parser."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import parse_manifest
from moorage.domain.oci_platform import Platform

CONFIG = {"mediaType": mt.OCI_CONFIG, "digest": str(Digest.of(b"{}")), "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": str(Digest.of(b"layer")), "size": 5}


def image(**extra: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER], **extra}


def dumps(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_oci_image_manifest() -> None:
    parsed = parse_manifest(dumps(image()), mt.OCI_MANIFEST)
    assert parsed.media_type == mt.OCI_MANIFEST
    assert parsed.config is not None and str(parsed.config.digest) == CONFIG["digest"]
    assert [str(d.digest) for d in parsed.layers] == [LAYER["digest"]]
    assert parsed.subject is None
    assert parsed.artifact_type == mt.OCI_CONFIG  # referrers list the config type when there is no artifactType
    assert parsed.total_size() == 7


def test_media_type_from_content_type_when_document_omits_it() -> None:
    doc = image()
    del doc["mediaType"]
    assert parse_manifest(dumps(doc), mt.DOCKER_MANIFEST).media_type == mt.DOCKER_MANIFEST
    assert parse_manifest(dumps(doc), None).media_type == mt.OCI_MANIFEST


def test_artifact_with_subject_and_empty_config() -> None:
    empty = {"mediaType": mt.OCI_EMPTY, "digest": str(Digest.of(b"{}")), "size": 2}
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"subject")), "size": 7}
    doc = image(
        config=empty, artifactType="application/vnd.example.sbom", subject=subject, annotations={"org.example": "yes"}
    )
    parsed = parse_manifest(dumps(doc), mt.OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example.sbom"
    assert parsed.subject is not None and str(parsed.subject.digest) == subject["digest"]
    assert parsed.annotations == {"org.example": "yes"}


def test_index_children_and_no_blob_references() -> None:
    child = {
        "mediaType": mt.OCI_MANIFEST,
        "digest": str(Digest.of(b"m")),
        "size": 1,
        "platform": {"architecture": "arm64", "os": "linux"},
    }
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [child]}
    parsed = parse_manifest(dumps(doc), mt.OCI_INDEX)
    assert parsed.is_index and parsed.blob_references() == ()
    assert parsed.manifests[0].platform == Platform("linux", "arm64")
    assert parsed.manifests[0].to_json()["platform"] == {"architecture": "arm64", "os": "linux"}


def test_docker_manifest_list() -> None:
    doc = {"schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST, "manifests": []}
    assert parse_manifest(dumps(doc), mt.DOCKER_MANIFEST_LIST).is_index


def test_foreign_layers_are_not_required_blobs() -> None:
    foreign = {
        "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "digest": str(Digest.of(b"win")),
        "size": 3,
        "urls": ["https://example.com/layer"],
    }
    doc = image(mediaType=mt.DOCKER_MANIFEST, layers=[LAYER, foreign])
    parsed = parse_manifest(dumps(doc), mt.DOCKER_MANIFEST)
    assert [str(d.digest) for d in parsed.blob_references()] == [CONFIG["digest"], LAYER["digest"]]


@pytest.mark.parametrize(
    ("payload", "content_type", "reason"),
    [
        (b"not json", mt.OCI_MANIFEST, "not valid JSON"),
        (b"[]", mt.OCI_MANIFEST, "JSON object"),
        (dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}), "application/json", "schema 1"),
        (dumps(image()), mt.DOCKER_SCHEMA1_SIGNED, "schema 1"),
        (dumps(image(schemaVersion=3)), mt.OCI_MANIFEST, "schemaVersion"),
        (dumps(image()), mt.DOCKER_MANIFEST, "does not match"),
        (dumps(image(layers="x")), mt.OCI_MANIFEST, "layers"),
        (
            dumps(image(config={"mediaType": mt.OCI_CONFIG, "digest": "sha256:zz", "size": 2})),
            mt.OCI_MANIFEST,
            "config.digest",
        ),
        (dumps(image(config={**CONFIG, "size": -1})), mt.OCI_MANIFEST, "size"),
        (dumps(image(config={**CONFIG, "size": True})), mt.OCI_MANIFEST, "size"),
        (dumps(image(annotations={"a": 1})), mt.OCI_MANIFEST, "annotations"),
        (dumps(image(mediaType="application/vnd.example+json")), "application/vnd.example+json", "unsupported"),
        (
            dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [], "layers": []}),
            mt.OCI_INDEX,
            "must not",
        ),
        (dumps(image(manifests=[])), mt.OCI_MANIFEST, "must not"),
    ],
)
def test_refusals_say_why(payload: bytes, content_type: str, reason: str) -> None:
    with pytest.raises(ManifestInvalid) as caught:
        parse_manifest(payload, content_type)
    assert reason in caught.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


@given(
    st.dictionaries(
        st.sampled_from(
            ["schemaVersion", "mediaType", "config", "layers", "manifests", "subject", "artifactType", "annotations"]
        ),
        json_values,
    ),
    st.sampled_from([mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, None]),
)
def test_arbitrary_documents_parse_or_raise_manifest_invalid(doc: dict[str, Any], content_type: str | None) -> None:
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(dumps(doc), content_type)


@given(st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_raise_manifest_invalid(payload: bytes) -> None:
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(payload, mt.OCI_MANIFEST)
