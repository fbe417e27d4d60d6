"""What a signing scheme and a key algorithm provide, so that a new signature format (Notation, say)
or a new key type is one more file beside ``cosign.py`` and ``ecdsa.py``.

A *key algorithm* makes key pairs and signs bytes. A *signature scheme* decides what is signed
(the payload naming an image), how signatures are stored in a registry (an artifact under a tag,
found through its ``subject`` by the referrers API) and how they are read back.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol


class SigningError(Exception):
    """A key, payload or signature artifact that cannot be used (malformed, wrong type, too big)."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A freshly made key pair: the private key as unencrypted PKCS#8 PEM (seal it before storing)
    and the public key as SubjectPublicKeyInfo PEM (what verifiers are given)."""

    algorithm: str
    private_pem: str = field(repr=False)
    public_pem: str


@dataclass(frozen=True, slots=True)
class Blob:
    """Content the registry must hold for a signature artifact, with its media type."""

    media_type: str
    data: bytes
    digest: str


@dataclass(frozen=True, slots=True)
class SignatureEntry:
    """One signature inside a signature artifact: the signed payload and the signature over it."""

    payload: Blob
    signature: str
    """Base64 of the signature bytes, as stored in the layer annotation."""


@dataclass(frozen=True, slots=True)
class SignatureArtifact:
    """A signature artifact ready to push: its manifest, the blobs it references and its tag."""

    tag: str
    manifest: bytes
    media_type: str
    blobs: tuple[Blob, ...]


@dataclass(frozen=True, slots=True)
class Subject:
    """The manifest being signed, and the image reference the signature vouches for."""

    digest: str
    media_type: str
    size: int
    docker_reference: str
    """``host[:port]/namespace/repository[:tag]`` as clients name the image."""


class KeyAlgorithm(Protocol):
    """Makes key pairs and signs and verifies bytes."""

    name: str

    def generate(self) -> KeyPair:
        """A new key pair."""
        ...

    def sign(self, private_pem: str, data: bytes) -> bytes:
        """The signature of ``data``."""
        ...

    def verify(self, public_pem: str, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is ``data`` signed with the private half of ``public_pem``."""
        ...


class SignatureScheme(Protocol):
    """How signatures of images are made, stored and found."""

    name: str

    def signature_tag(self, manifest_digest: str) -> str:
        """The tag under which the signatures of ``manifest_digest`` are stored."""
        ...

    def payload(self, subject: Subject, *, timestamp: int) -> bytes:
        """The bytes that get signed for ``subject``."""
        ...

    async def entries(self, manifest: bytes, fetch: BlobReader) -> list[SignatureEntry]:
        """The signatures inside an existing signature artifact."""
        ...

    def artifact(self, subject: Subject, entries: list[SignatureEntry]) -> SignatureArtifact:
        """The signature artifact holding ``entries``, referring to ``subject``."""
        ...


class BlobReader(Protocol):
    """Reads a blob of the repository a signature artifact lives in."""

    def __call__(self, digest: str, limit: int) -> Awaitable[bytes]:
        """The blob's bytes (at most ``limit``: larger ones raise ``SigningError``)."""
        ...
