"""Documents the two former manifest parsers disagreed on: the registry's refused each of them,
the registry client's (and so the scanner's) accepted it. The merged parser keeps the stricter
check; the domain, client and property tests all use this one table."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moorage.domain import mediatypes as mt
from moorage.domain.digests import Digest

CONFIG = {"mediaType": mt.OCI_CONFIG, "digest": str(Digest.of(b"{}")), "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": str(Digest.of(b"layer")), "size": 5}
CHILD = {
    "mediaType": mt.OCI_MANIFEST,
    "digest": str(Digest.of(b"child")),
    "size": 9,
    "platform": {"architecture": "amd64", "os": "linux"},
}


def image_manifest() -> dict[str, Any]:
    """A valid OCI image manifest both parsers accepted."""
    return {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": dict(CONFIG), "layers": [dict(LAYER)]}


def image_index() -> dict[str, Any]:
    """A valid OCI index both parsers accepted."""
    return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [copy.deepcopy(CHILD)]}


@dataclass(frozen=True)
class Reconciled:
    """One difference: how to damage a valid document, and what the refusal says."""

    name: str
    damage: Callable[[dict[str, Any]], None]
    """Changes a valid document in place (an image manifest, or an index when ``index``)."""
    reason: str
    """A part of the ``ManifestInvalid`` message."""
    index: bool = False
    content_type: str | None = None
    """The Content-Type the document comes with (default: its own media type)."""

    def document(self) -> tuple[bytes, str]:
        """The damaged document's bytes and the Content-Type it is sent with."""
        doc = image_index() if self.index else image_manifest()
        self.damage(doc)
        return json.dumps(doc).encode(), self.content_type or (mt.OCI_INDEX if self.index else mt.OCI_MANIFEST)


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def damage(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return damage


def _delete(path: tuple[str | int, ...]) -> Callable[[dict[str, Any]], None]:
    def damage(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return damage


RECONCILED = [
    Reconciled("descriptor without mediaType", _delete(("config", "mediaType")), "missing field 'mediaType'"),
    Reconciled("annotations an empty list", _set(("layers", 0, "annotations"), []), "annotations must map"),
    Reconciled("annotation value a number", _set(("config", "annotations"), {"a": 1}), "annotations must map"),
    Reconciled("digest with a trailing newline", _set(("config", "digest"), CONFIG["digest"] + "\n"), "config.digest"),
    Reconciled(
        "platform not an object",
        _set(("manifests", 0, "platform"), "linux/amd64"),
        "platform must be an object",
        index=True,
    ),
    Reconciled("urls not strings", _set(("layers", 0, "urls"), [1]), "urls must be a list of strings"),
    Reconciled(
        "descriptor artifactType not a string", _set(("config", "artifactType"), 5), "'artifactType' must be a string"
    ),
    Reconciled("schemaVersion missing", _delete(("schemaVersion",)), "schemaVersion must be 2"),
    Reconciled("schemaVersion 3", _set(("schemaVersion",), 3), "schemaVersion must be 2"),
    Reconciled(
        "Content-Type disagrees with mediaType", lambda doc: None, "does not match", content_type=mt.DOCKER_MANIFEST
    ),
    Reconciled("index with layers", _set(("layers",), []), "must not have 'config' or 'layers'", index=True),
    Reconciled("image manifest with manifests", _set(("manifests",), []), "must not have 'manifests'"),
    Reconciled("subject not a descriptor", _set(("subject",), "sha256:x"), "subject must be an object"),
    Reconciled("artifactType not a string", _set(("artifactType",), ["x"]), "'artifactType' must be a string"),
    Reconciled("manifest annotations not strings", _set(("annotations",), {"a": None}), "annotations must map"),
]
"""Every check only the registry's parser made (the client's made none the registry did not, but
the size bound: see the domain tests)."""
