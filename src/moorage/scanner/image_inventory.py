"""An image's inventory: what the registry stores per manifest and re-matches later.

The JSON form (``moorage-inventory/1``, documented in docs/inventory-format.md) is stable: fields
are only ever added. :func:`inventory_to_json` and :func:`inventory_from_json` round-trip it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from moorage.scanner.errors import MALFORMED_JSON, ParseError
from moorage.scanner.inventory import Distro, Ecosystem, Package

INVENTORY_SCHEMA = "moorage-inventory/1"


@dataclass(frozen=True, slots=True)
class InventoryError:
    """A file the analysis could not use (kept so a report can say what was skipped)."""

    analyzer: str
    """Plug-in name."""
    path: str
    """Image path."""
    layer_digest: str
    """Layer of that file."""
    message: str
    """What went wrong."""
    code: str = "unknown"
    """Why, as a ``moorage.scanner.interface.SkipCode`` value (``file_too_large``, ``malformed``...)."""


@dataclass(frozen=True, slots=True)
class ImageInventory:
    """Everything image analysis found in one image (one platform)."""

    name: str
    """What the user called the image (path or reference)."""
    manifest_digest: str = ""
    """Digest of the image manifest; empty for a root filesystem."""
    platform: str = ""
    """``os/arch[/variant]``; empty when unknown."""
    layers: tuple[str, ...] = ()
    """Layer digests, base first."""
    distro: Distro | None = None
    """Operating system, if detected."""
    packages: tuple[Package, ...] = ()
    """Every package found, sorted by ecosystem, name, version, path."""
    errors: tuple[InventoryError, ...] = ()
    """Files that could not be analysed."""
    analyzers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    """Analyzer name -> version that produced this inventory."""
    generator: str = ""
    """``moorage <version>``."""


def _package_to_json(package: Package) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(Package):
        value = getattr(package, f.name)
        if f.name == "ecosystem":
            out[f.name] = value.value
        elif f.name == "licenses":
            out[f.name] = list(value)
        elif f.name == "metadata":
            out[f.name] = dict(value)
        else:
            out[f.name] = value
    return out


def _package_from_json(doc: Any) -> Package:
    if not isinstance(doc, dict):
        raise ParseError("package is not an object")
    known = {f.name for f in fields(Package)}
    values = {k: v for k, v in doc.items() if k in known}
    try:
        values["ecosystem"] = Ecosystem(values["ecosystem"])
        values["licenses"] = tuple(str(x) for x in values.get("licenses", ()))
        values["metadata"] = {str(k): str(v) for k, v in (values.get("metadata") or {}).items()}
        for key in ("name", "version", "purl"):
            if not isinstance(values[key], str):
                raise ParseError(f"package {key} is not a string")
        return Package(**values)
    except MALFORMED_JSON as exc:
        raise ParseError(f"bad package in inventory: {exc!r}") from exc


def inventory_to_json(inventory: ImageInventory) -> dict[str, Any]:
    """The documented JSON form."""
    distro = inventory.distro
    return {
        "schema": INVENTORY_SCHEMA,
        "generator": inventory.generator,
        "analyzers": dict(inventory.analyzers),
        "image": {
            "name": inventory.name,
            "manifest_digest": inventory.manifest_digest,
            "platform": inventory.platform,
            "layers": list(inventory.layers),
        },
        "distro": None
        if distro is None
        else {
            "id": distro.id,
            "version_id": distro.version_id,
            "codename": distro.codename,
            "pretty_name": distro.pretty_name,
            "id_like": list(distro.id_like),
        },
        "packages": [_package_to_json(p) for p in inventory.packages],
        "errors": [
            {
                "analyzer": e.analyzer,
                "path": e.path,
                "layer_digest": e.layer_digest,
                "message": e.message,
                "code": e.code,
            }
            for e in inventory.errors
        ],
    }


def inventory_from_json(doc: Any) -> ImageInventory:
    """Read the JSON form back (unknown fields are ignored; raises ParseError when malformed)."""
    if not isinstance(doc, dict) or doc.get("schema") != INVENTORY_SCHEMA:
        raise ParseError(f"not a {INVENTORY_SCHEMA} document")
    try:
        image = doc["image"]
        raw_distro = doc.get("distro")
        distro = (
            None
            if raw_distro is None
            else Distro(
                id=str(raw_distro["id"]),
                version_id=str(raw_distro.get("version_id", "")),
                codename=str(raw_distro.get("codename", "")),
                pretty_name=str(raw_distro.get("pretty_name", "")),
                id_like=tuple(str(x) for x in raw_distro.get("id_like", ())),
            )
        )
        return ImageInventory(
            name=str(image["name"]),
            manifest_digest=str(image.get("manifest_digest", "")),
            platform=str(image.get("platform", "")),
            layers=tuple(str(x) for x in image.get("layers", ())),
            distro=distro,
            packages=tuple(_package_from_json(p) for p in doc.get("packages", [])),
            errors=tuple(
                InventoryError(
                    str(e["analyzer"]),
                    str(e["path"]),
                    str(e.get("layer_digest", "")),
                    str(e["message"]),
                    str(e.get("code", "unknown")),
                )
                for e in doc.get("errors", [])
            ),
            analyzers={str(k): str(v) for k, v in (doc.get("analyzers") or {}).items()},
            generator=str(doc.get("generator", "")),
        )
    except MALFORMED_JSON as exc:
        raise ParseError(f"malformed inventory: {exc!r}") from exc
