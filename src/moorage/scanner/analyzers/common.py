"""Helpers analyzers share: purls, text decoding, stanza parsing, and the introducing layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from packageurl import PackageURL

from moorage.scanner.errors import ParseError
from moorage.scanner.flatten import FlatFile, FlatView
from moorage.scanner.interface import JsonValue
from moorage.scanner.inventory import Distro

MAX_RECORDS = 200_000


def purl(
    kind: str,
    name: str,
    version: str,
    *,
    namespace: str = "",
    qualifiers: Mapping[str, str] | None = None,
    subpath: str = "",
) -> str:
    """A package URL string; empty qualifiers are left out."""
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return PackageURL(
        type=kind,
        namespace=namespace or None,
        name=name,
        version=version or None,
        qualifiers=quals or None,
        subpath=subpath or None,
    ).to_string()


def distro_qualifier(distro: Distro | None) -> str:
    """``debian-12`` style ``distro=`` qualifier value (empty when unknown)."""
    if distro is None:
        return ""
    return f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id


def decode_text(content: bytes) -> str:
    """UTF-8 text, with undecodable bytes replaced (metadata files are not always clean)."""
    if b"\x00" in content[:8192]:
        raise ParseError("binary content where text was expected")
    return content.decode("utf-8", errors="replace")


def iter_stanzas(text: str) -> Iterator[list[tuple[str, str]]]:
    """RFC 822-style stanzas (dpkg status, apk installed): blank-line separated ``Key: value``
    lines, continuation lines starting with a space or tab; yields (key, value) lists."""
    fields: list[tuple[str, str]] = []
    count = 0
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
                count += 1
                if count > MAX_RECORDS:
                    raise ParseError(f"more than {MAX_RECORDS} records")
                fields = []
            continue
        if line[0] in " \t":
            if fields:
                key, value = fields[-1]
                fields[-1] = (key, value + "\n" + line.strip())
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        fields.append((key.strip(), value.strip()))
    if fields:
        yield fields


def introduced_in(view: FlatView, plugin: str, path: str, flat: FlatFile, same: Callable[[JsonValue], bool]) -> str:
    """The lowest layer from which, without interruption up to the top, the record at ``path``
    satisfies ``same`` (the package with the version the image has)."""
    digest = flat.entry.layer_digest
    for index, value in view.history(plugin, path):
        if not same(value):
            break
        digest = view.layers[index].digest
    return digest
