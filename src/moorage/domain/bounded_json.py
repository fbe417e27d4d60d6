"""The one JSON loader for untrusted documents, bounded in nesting depth and, when asked, in size:
what clients send the server, what the registry client downloads, and what the scanner reads out of
images (manifests, configs, package databases). Each caller passes the bounds its settings give.

``json.loads`` recurses once per ``[`` or ``{``: a manifest nested 100,000 levels deep raises
``RecursionError`` (a 500, not a 400), and a document a few hundred levels deep still parses but
breaks the recursive code that walks it later. :func:`loads` measures the depth first and refuses
a document nested deeper than ``max_depth`` with :class:`JsonTooDeep`, a ``json.JSONDecodeError``:
every caller that already turns malformed JSON into a 400 of its dialect does the same for it.

The depth is measured without parsing, in C-speed bytes operations: the strings are cut out (a
bracket inside a string opens nothing), innermost bracket pairs are removed a few passes at a
time, and whatever is left is measured bracket by bracket. Documents with fewer opening brackets
than the bound (most request bodies) skip the measure altogether. CPU time on a 4 MiB OCI
manifest of 20,000 layers: 6.8 ms, against 27.9 ms for ``json.loads`` of the same bytes; the
slowest shape found (4 MiB of strings full of brackets) 123 ms against 68 ms
(``bench/json_depth_bench.py``).
"""

from __future__ import annotations

import itertools
import json
import operator
from typing import Any

DEFAULT_MAX_DEPTH = 64
"""Default bound for documents received from clients (``MOORAGE_HTTP__MAX_JSON_DEPTH``)."""
DOCUMENT_MAX_DEPTH = 256
"""Bound for documents the server stored itself or fetched from another registry: the highest the
setting may be, so that whatever was accepted once can be read back, and well below the depth at
which Python's recursion limit would be reached."""

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
# An opening bracket becomes 2, a closing one 0: after i brackets, the running sum minus i is the depth.
_STEPS = bytes.maketrans(b"[]", b"\x02\x00")
_PEEL_PASSES = 8
"""Innermost pairs removed by ``bytes.replace`` before counting bracket by bracket: typical documents
(manifests are 4 deep) vanish in these passes, at C speed."""


class JsonTooLarge(json.JSONDecodeError):
    """A JSON document longer than the bound, refused before any of it is parsed."""

    def __init__(self, size: int, max_bytes: int) -> None:
        super().__init__(f"JSON document of {size} bytes is larger than {max_bytes}", "", 0)
        self.max_bytes = max_bytes

    def __str__(self) -> str:
        return self.msg


class JsonTooDeep(json.JSONDecodeError):
    """A JSON document nested deeper than the bound (a kind of malformed JSON for the callers)."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels", "", 0)
        self.max_depth = max_depth

    def __str__(self) -> str:
        return self.msg  # no "line 1 column 1": the depth is a property of the whole document


def _utf8(document: bytes | bytearray | memoryview | str) -> bytes:
    """The document as UTF-8 bytes (``json.loads`` also takes UTF-16 and UTF-32)."""
    if isinstance(document, str):
        return document.encode("utf-8", "surrogatepass")
    raw = bytes(document)
    encoding = json.detect_encoding(raw)
    if encoding == "utf-8":
        return raw
    return raw.decode(encoding, "replace").encode("utf-8", "surrogatepass")


def _brackets(raw: bytes) -> bytes:
    """The brackets of ``raw`` that are outside strings, in order."""
    if b"\\" in raw:
        # Escaped backslashes first (left to right, as the parser reads them), then escaped quotes:
        # every quote left delimits a string. Other escapes cannot open or close anything.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _NOT_STRUCTURE)  # brackets and quotes only
    bare = structure.replace(b'""', b"")
    if b'"' not in bare:
        # No string holds a bracket: the first one that did would leave its opening quote behind
        # (the run of quotes before it has odd length and pairs are removed from the left).
        return bare
    # Drop the pieces between quote pairs (the strings); an unterminated string leaves its tail
    # out, which is as wrong as the document that has it.
    return b"".join(structure.split(b'"')[0::2])


def exceeds_depth(document: bytes | bytearray | memoryview | str, max_depth: int) -> bool:
    """Whether ``document`` nests arrays and objects deeper than ``max_depth`` (``[]`` is 1 deep).

    With ``{`` and ``}`` spelled ``[`` and ``]``: a run of more than ``max_depth`` opening brackets
    answers at once; otherwise each ``bytes.replace`` pass removes the innermost pairs and lowers
    the depth by exactly one, and what a few passes leave is measured bracket by bracket (a running
    balance, with C-level iterators). Unbalanced input, which the parser refuses anyway, gets an
    answer too."""
    brackets = _brackets(_utf8(document)).translate(_ONE_KIND)
    if b"[" * (max_depth + 1) in brackets:
        return True
    peeled = 0
    while peeled < min(_PEEL_PASSES, max_depth) and b"[]" in brackets:
        brackets = brackets.replace(b"[]", b"")
        peeled += 1
    if b"[]" not in brackets:
        return False
    steps = brackets.translate(_STEPS)
    deepest = max(map(operator.sub, itertools.accumulate(steps), itertools.count(1)), default=0)
    return peeled + deepest > max_depth


def check_depth(document: bytes | bytearray | memoryview | str, max_depth: int) -> None:
    """Raise :class:`JsonTooDeep` when ``document`` is nested deeper than ``max_depth``."""
    if isinstance(document, str):
        opening = document.count("[") + document.count("{")
    else:
        raw = document if isinstance(document, bytes) else bytes(document)
        opening = raw.count(b"[") + raw.count(b"{")
    if opening > max_depth and exceeds_depth(document, max_depth):
        raise JsonTooDeep(max_depth)


def loads(
    document: bytes | bytearray | memoryview | str, *, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int | None = None
) -> Any:
    """``json.loads`` of a document no deeper than ``max_depth`` and, with ``max_bytes``, no longer
    than that (in bytes, or characters for a ``str``): :class:`JsonTooDeep` or :class:`JsonTooLarge`
    otherwise, ``json.JSONDecodeError`` (or ``UnicodeDecodeError``) for malformed input as usual.
    Both refusals are ``JSONDecodeError`` (so ``ValueError``): whoever handles malformed JSON handles
    them."""
    if max_bytes is not None and len(document) > max_bytes:
        raise JsonTooLarge(len(document), max_bytes)
    check_depth(document, max_depth)
    if isinstance(document, memoryview):
        document = bytes(document)
    try:
        return json.loads(document)
    except RecursionError:  # only with a bound above the interpreter's recursion limit
        raise JsonTooDeep(max_depth) from None


def load_document(document: bytes | bytearray | memoryview | str) -> Any:
    """:func:`loads` with :data:`DOCUMENT_MAX_DEPTH`: for documents read back from the database or
    storage, or fetched from another registry."""
    return loads(document, max_depth=DOCUMENT_MAX_DEPTH)
