"""Content digests (``algorithm:encoded``) as the OCI image spec defines them.

Only sha256 and sha512 are registered algorithms; anything else that is well formed is
``UnsupportedDigest``, anything malformed is ``DigestInvalid``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from moorage.domain.errors import DigestInvalid, UnsupportedDigest

# OCI image-spec grammar: algorithm-component ([a-z0-9]+) joined by [+._-], then ':' and encoded.
_DIGEST_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
_ENCODED = {
    "sha256": re.compile(r"^[a-f0-9]{64}$"),
    "sha512": re.compile(r"^[a-f0-9]{128}$"),
}
SUPPORTED_ALGORITHMS = tuple(_ENCODED)


class Hasher(Protocol):
    """The part of ``hashlib``'s hash objects that moorage uses."""

    @property
    def name(self) -> str: ...
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated digest; ``str(d)`` is its canonical ``algorithm:hex`` form."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse and validate ``text``; raise ``DigestInvalid`` or ``UnsupportedDigest``."""
        if not isinstance(text, str) or len(text) > 256 or not _DIGEST_GRAMMAR.fullmatch(text):
            raise DigestInvalid(f"invalid digest {text!r}", detail={"digest": str(text)[:256]})
        algorithm, encoded = text.split(":", 1)
        pattern = _ENCODED.get(algorithm)
        if pattern is None:
            raise UnsupportedDigest(f"unsupported digest algorithm {algorithm!r}", detail={"digest": text})
        if not pattern.fullmatch(encoded):
            raise DigestInvalid(f"invalid {algorithm} digest {text!r}", detail={"digest": text})
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, content: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of ``content`` with ``algorithm``."""
        hasher = new_hasher(algorithm)
        hasher.update(content)
        return cls(algorithm, hasher.hexdigest())

    def hasher(self) -> Hasher:
        """A fresh hash object of this digest's algorithm."""
        return new_hasher(self.algorithm)

    def matches(self, content: bytes) -> bool:
        """Whether ``content`` hashes to this digest."""
        return Digest.of(content, self.algorithm) == self


def new_hasher(algorithm: str) -> Hasher:
    """A hash object for a supported algorithm."""
    if algorithm not in _ENCODED:
        raise UnsupportedDigest(f"unsupported digest algorithm {algorithm!r}")
    return hashlib.new(algorithm)


def is_digest(text: str) -> bool:
    """True when ``text`` looks like a digest (has the grammar), whatever its algorithm."""
    return ":" in text and bool(_DIGEST_GRAMMAR.fullmatch(text))
