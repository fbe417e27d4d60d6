"""An OCI layout's documents go through the domain's manifest parser: a manifest the registry would
refuse is refused by the scanner too (the scanner's former parser let each of these through), and
``index.json`` is an image index like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.sources import OciLayoutSource
from tests.domain.oci_cases import RECONCILED, Reconciled


def _blob(root: Path, data: bytes) -> str:
    digest = Digest.of(data)
    path = root / "blobs" / digest.algorithm / digest.hex
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(digest)


def layout(root: Path, manifest: bytes, media_type: str, *, index: dict[str, object] | None = None) -> Path:
    """A layout whose ``index.json`` points at ``manifest`` (the blobs the test documents name are
    there too: an empty config, a layer, a child manifest)."""
    (root / "oci-layout").parent.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    for data in (b"{}", b"layer", b"child"):
        _blob(root, data)
    top = {"mediaType": media_type, "digest": _blob(root, manifest), "size": len(manifest)}
    document = index if index is not None else {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [top]}
    (root / "index.json").write_text(json.dumps(document))
    return root


@pytest.mark.parametrize("case", RECONCILED, ids=lambda c: c.name)
def test_a_manifest_the_registry_refuses_is_refused(case: Reconciled, tmp_path: Path) -> None:
    payload, content_type = case.document()
    with OciLayoutSource(layout(tmp_path, payload, content_type)) as source, pytest.raises(ImageSourceError) as refused:
        source.resolve(None)
    assert case.reason in str(refused.value)


def test_index_json_is_an_image_index(tmp_path: Path) -> None:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mt.OCI_MANIFEST,
            "config": {"mediaType": mt.OCI_CONFIG, "digest": str(Digest.of(b"{}")), "size": 2},
            "layers": [],
        }
    ).encode()
    good = layout(tmp_path / "good", manifest, mt.OCI_MANIFEST)
    with OciLayoutSource(good) as source:
        (image,) = source.resolve(None)
    assert image.manifest_digest == str(Digest.of(manifest)) and image.config_digest == str(Digest.of(b"{}"))
    top = json.loads((good / "index.json").read_text())["manifests"][0]
    bad = layout(tmp_path / "bad", manifest, mt.OCI_MANIFEST, index={"manifests": [top]})  # no schemaVersion
    with OciLayoutSource(bad) as source, pytest.raises(ImageSourceError, match=r"index\.json: schemaVersion must be 2"):
        source.resolve(None)
