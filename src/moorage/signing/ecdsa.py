"""ECDSA P-256 with SHA-256, DER-encoded signatures: what cosign makes by default and what
containers/image (skopeo, podman) and sigstore verify."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from moorage.signing.interface import KeyPair, SigningError

ALGORITHM = "ECDSA_SHA_256"
"""The name SWR uses for KMS's EC_P256 keys."""


class EcdsaP256:
    """The ``KeyAlgorithm`` for ECDSA over NIST P-256 with SHA-256."""

    name = ALGORITHM

    def generate(self) -> KeyPair:
        """A new P-256 key pair."""
        key = ec.generate_private_key(ec.SECP256R1())
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return KeyPair(ALGORITHM, private_pem, public_pem(key.public_key()))

    def sign(self, private_pem: str, data: bytes) -> bytes:
        """A DER signature of SHA-256(``data``)."""
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise SigningError("the key is not an ECDSA P-256 private key")
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    def verify(self, public_pem_text: str, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (DER) signs ``data`` under ``public_pem_text``."""
        try:
            key = serialization.load_pem_public_key(public_pem_text.encode())
        except ValueError as exc:
            raise SigningError(f"not a PEM public key: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise SigningError("the key is not an ECDSA P-256 public key")
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def public_pem(key: ec.EllipticCurvePublicKey) -> str:
    """A public key as SubjectPublicKeyInfo PEM (``-----BEGIN PUBLIC KEY-----``)."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
