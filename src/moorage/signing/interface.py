"""What a signing scheme and a key algorithm provide, so that a new signature format (Notation, say)
or a new key type is one more file beside ``cosign.py`` and ``ecdsa.py``.

A *key algorithm* makes key pairs and signs bytes. A *signature scheme* decides what is signed
(the payload naming an image), how signatures are stored in a registry (an artifact under a tag,
found through its ``subject`` by the referrers API) and how they are read back.
"""

from __future__ import annotations

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
    """One signature inside a signature artifact: the signed payload (by digest and size; its bytes
    only for a signature being added) and the signature over it."""

    payload_digest: str
    payload_size: int
    signature: str
    """Base64 of the signature bytes, as stored in the layer annotation."""
    payload: bytes | None = field(default=None, repr=False, compare=False)
    """The payload itself, for a new signature (its blob must be stored with the artifact)."""


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

    def payload(self, subject: Subject) -> bytes:
        """The bytes that get signed for ``subject`` (the same for the same subject, so an existing
        signature of it is recognised by the payload digest alone)."""
        ...

    def entries(self, manifest: bytes) -> list[SignatureEntry]:
        """The signatures inside an existing (untrusted) signature artifact."""
        ...

    def artifact(self, subject: Subject, entries: list[SignatureEntry]) -> SignatureArtifact:
        """The signature artifact holding ``entries``, referring to ``subject``."""
        ...
