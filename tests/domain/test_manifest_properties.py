"""Properties of the merged manifest parser: every manifest and index value survives its JSON form
(round trip), and every defect only the registry's former parser refused is refused wherever it
stands in a document (the client's former parser accepted each of them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import Descriptor, ImageIndex, ImageManifest, ParsedManifest, parse_manifest
from moorage.domain.oci_platform import Platform
from tests.fuzz.budget import FUZZ

words = st.text(max_size=12)
media_types = st.sampled_from(
    [
        mt.OCI_CONFIG,
        mt.OCI_MANIFEST,
        mt.OCI_EMPTY,
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.example+json",
    ]
)
digests = st.builds(Digest.of, st.binary(max_size=8), st.sampled_from(["sha256", "sha512"]))
platforms = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows", "unknown"]),
    architecture=st.sampled_from(["amd64", "arm64", "arm", "unknown"]),
    variant=st.sampled_from(["", "v7", "v8"]),
    os_version=st.sampled_from(["", "10.0.17763"]),
    os_features=st.lists(words, max_size=2).map(tuple),
)


@st.composite
def descriptors(draw: st.DrawFn, *, platform: bool = False) -> Descriptor:
    return Descriptor(
        media_type=draw(media_types),
        digest=draw(digests),
        size=draw(st.integers(0, 2**53)),
        artifact_type=draw(st.sampled_from(["", "application/vnd.example.sbom"])),
        annotations=draw(st.dictionaries(words, words, max_size=3)),
        platform=draw(st.none() | platforms) if platform else None,
        urls=tuple(draw(st.lists(words, max_size=2))),
    )


@st.composite
def image_manifests(draw: st.DrawFn) -> ImageManifest:
    config = draw(descriptors())
    return ImageManifest(
        media_type=draw(st.sampled_from(sorted(mt.IMAGE_MANIFESTS))),
        config=config,
        layers=tuple(draw(st.lists(descriptors(), max_size=4))),
        subject=draw(st.none() | descriptors()),
        artifact_type=draw(st.sampled_from([config.media_type, "application/vnd.example.sig"])),
        annotations=draw(st.dictionaries(words, words, max_size=3)),
    )


@st.composite
def image_indexes(draw: st.DrawFn) -> ImageIndex:
    return ImageIndex(
        media_type=draw(st.sampled_from(sorted(mt.INDEXES))),
        manifests=tuple(draw(st.lists(descriptors(platform=True), max_size=4))),
        subject=draw(st.none() | descriptors()),
        artifact_type=draw(st.sampled_from(["", "application/vnd.example.attestations"])),
        annotations=draw(st.dictionaries(words, words, max_size=3)),
    )


documents = image_manifests() | image_indexes()


def _annotations(parsed: ParsedManifest) -> list[dict[str, str]]:
    """Every annotation map of a parsed document (they are left out of equality)."""
    described = [parsed.config, *parsed.layers, *parsed.manifests, parsed.subject]
    return [parsed.annotations, *(d.annotations for d in described if d is not None)]


@FUZZ
@given(documents, st.booleans())
def test_round_trip(document: ParsedManifest, omit_media_type: bool) -> None:
    doc = document.to_json()
    content_type: str | None = document.media_type
    if omit_media_type:
        del doc["mediaType"]  # the Content-Type says it
    else:
        content_type = None  # the document says it
    parsed = parse_manifest(json.dumps(doc).encode(), content_type)
    assert parsed == document
    assert _annotations(parsed) == _annotations(document)
    assert parsed.to_json() == document.to_json()


def _descriptor_defect(name: str) -> Callable[[dict[str, Any]], None]:
    def damage(descriptor: dict[str, Any]) -> None:
        if name == "mediaType":
            del descriptor["mediaType"]
        elif name == "annotations":
            descriptor["annotations"] = []
        elif name == "annotation value":
            descriptor["annotations"] = {**descriptor.get("annotations", {}), "k": 1}
        elif name == "digest":
            descriptor["digest"] += "\n"
        elif name == "urls":
            descriptor["urls"] = [1]
        elif name == "artifactType":
            descriptor["artifactType"] = 5
        else:
            descriptor["platform"] = "linux/amd64"

    return damage


DESCRIPTOR_DEFECTS = ["mediaType", "annotations", "annotation value", "digest", "urls", "artifactType", "platform"]


@FUZZ
@given(documents, st.sampled_from(DESCRIPTOR_DEFECTS), st.integers(0, 10))
def test_every_descriptor_defect_is_refused_wherever_it_stands(
    document: ParsedManifest, defect: str, where: int
) -> None:
    doc = document.to_json()
    places = ([doc["config"], *doc["layers"]] if "config" in doc else doc["manifests"]) + (
        [doc["subject"]] if "subject" in doc else []
    )
    if not places:
        doc["subject"] = Descriptor(mt.OCI_MANIFEST, Digest.of(b"s"), 1).to_json()
        places = [doc["subject"]]
    _descriptor_defect(defect)(places[where % len(places)])
    with pytest.raises(ManifestInvalid):
        parse_manifest(json.dumps(doc).encode(), document.media_type)


TOP_DEFECTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "schemaVersion missing": lambda doc: doc.pop("schemaVersion"),
    "schemaVersion 3": lambda doc: doc.update(schemaVersion=3),
    "index fields mixed": lambda doc: doc.update(layers=[]) if "manifests" in doc else doc.update(manifests=[]),
    "subject not an object": lambda doc: doc.update(subject="x"),
    "artifactType not a string": lambda doc: doc.update(artifactType=1),
    "annotations not strings": lambda doc: doc.update(annotations={"k": [1]}),
}


@FUZZ
@given(documents, st.sampled_from(sorted(TOP_DEFECTS)))
def test_every_document_defect_is_refused(document: ParsedManifest, defect: str) -> None:
    doc = document.to_json()
    TOP_DEFECTS[defect](doc)
    with pytest.raises(ManifestInvalid):
        parse_manifest(json.dumps(doc).encode(), document.media_type)


@FUZZ
@given(documents, st.sampled_from(sorted(mt.MANIFEST_TYPES)))
def test_a_content_type_that_disagrees_is_refused(document: ParsedManifest, content_type: str) -> None:
    payload = json.dumps(document.to_json()).encode()
    if content_type == document.media_type:
        assert parse_manifest(payload, content_type) == document
    else:
        with pytest.raises(ManifestInvalid, match="does not match"):
            parse_manifest(payload, content_type)
