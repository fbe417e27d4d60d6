"""Fuzzing the manifest parser: anything a client can PUT parses or raises ``ManifestInvalid``
(never another exception), deep nesting included; generated valid manifests parse to what they say."""

from __future__ import annotations

import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moorage.domain import mediatypes as mt
from moorage.domain.errors import ManifestInvalid
from moorage.domain.manifests import parse_manifest
from tests.fuzz.budget import FUZZ

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
content_types = st.sampled_from(
    [mt.OCI_MANIFEST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST, "application/json", None, "text/plain"]
)
digests = st.binary(min_size=1, max_size=8).map(lambda b: "sha256:" + hashlib.sha256(b).hexdigest())


@st.composite
def descriptors(draw: st.DrawFn) -> dict[str, Any]:
    found: dict[str, Any] = {
        "mediaType": draw(st.sampled_from([mt.OCI_CONFIG, mt.OCI_MANIFEST, "x/y"])),
        "digest": draw(digests),
        "size": draw(st.integers(0, 2**40)),
    }
    if draw(st.booleans()):
        found["annotations"] = draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3))
    if draw(st.booleans()):
        found["platform"] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    return found


@st.composite
def manifests(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    if draw(st.booleans()):
        doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": draw(st.lists(descriptors(), max_size=5))}
        return doc, mt.OCI_INDEX
    doc = {
        "schemaVersion": 2,
        "mediaType": mt.OCI_MANIFEST,
        "config": draw(descriptors()),
        "layers": draw(st.lists(descriptors(), max_size=5)),
    }
    return doc, mt.OCI_MANIFEST


def put(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@FUZZ
@given(manifests())
def test_valid_manifests_parse_to_what_they_say(manifest: tuple[dict[str, Any], str]) -> None:
    doc, media_type = manifest
    parsed = parse_manifest(put(doc), media_type)
    assert parsed.media_type == media_type
    if media_type == mt.OCI_INDEX:
        assert [str(d.digest) for d in parsed.manifests] == [d["digest"] for d in doc["manifests"]]
    else:
        assert [str(d.digest) for d in parsed.layers] == [d["digest"] for d in doc["layers"]]


@FUZZ
@given(manifests(), st.integers(0, 3), st.text(max_size=3), json_values, content_types)
def test_damaged_manifests_parse_or_raise_manifest_invalid(
    manifest: tuple[dict[str, Any], str], cut: int, key: str, value: Any, content_type: str | None
) -> None:
    doc, _ = manifest
    damaged = dict(doc)
    if cut and damaged:
        damaged.pop(sorted(damaged)[cut % len(damaged)])
    damaged[key or "layers"] = value
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(put(damaged), content_type)


@FUZZ
@given(
    st.binary(max_size=1024) | st.text(st.sampled_from(list('[]{}",:\\ 0a')), max_size=2048).map(str.encode),
    content_types,
)
def test_arbitrary_bytes_parse_or_raise_manifest_invalid(payload: bytes, content_type: str | None) -> None:
    with contextlib.suppress(ManifestInvalid):
        parse_manifest(payload, content_type)


@FUZZ
@given(manifests(), st.integers(1, 200), st.sampled_from(["platform", "annotations", "x", "config"]))
def test_depth_is_bounded_wherever_the_nesting_hides(
    manifest: tuple[dict[str, Any], str], extra: int, where: str
) -> None:
    doc, media_type = manifest
    deep: Any = 0
    for _ in range(extra):
        deep = [deep]
    doc = {**doc, where: deep}
    try:
        parse_manifest(put(doc), media_type, max_depth=64)
    except ManifestInvalid as refused:
        if extra + 1 > 64:
            assert "nested deeper than 64" in refused.message
    else:
        assert extra + 1 <= 64


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_manifest_is_manifest_invalid(depth: int) -> None:
    payload = b'{"schemaVersion": 2, "layers": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(ManifestInvalid, match="nested deeper than 64"):
        parse_manifest(payload, mt.OCI_MANIFEST, max_depth=64)
