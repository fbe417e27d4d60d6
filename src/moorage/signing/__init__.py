"""Image signing: key algorithms (``ecdsa.py``) and signature schemes (``cosign.py``) behind the
protocols of ``interface.py``, chosen by the names the SWR API uses."""

from __future__ import annotations

from moorage.signing.cosign import CosignScheme
from moorage.signing.ecdsa import EcdsaP256
from moorage.signing.interface import KeyAlgorithm, SignatureScheme, SigningError

KEY_ALGORITHMS: dict[str, type[EcdsaP256]] = {EcdsaP256.name: EcdsaP256}
SCHEMES: dict[str, type[CosignScheme]] = {CosignScheme.name: CosignScheme}


def key_algorithm(name: str) -> KeyAlgorithm:
    """The key algorithm called ``name`` (``ECDSA_SHA_256``)."""
    try:
        return KEY_ALGORITHMS[name]()
    except KeyError:
        raise SigningError(
            f"unsupported signature algorithm {name!r}; supported: {', '.join(KEY_ALGORITHMS)}"
        ) from None


def signature_scheme(name: str = CosignScheme.name) -> SignatureScheme:
    """The signature scheme called ``name`` (``cosign``)."""
    try:
        return SCHEMES[name]()
    except KeyError:
        raise SigningError(f"unsupported signature scheme {name!r}; supported: {', '.join(SCHEMES)}") from None


__all__ = ["KeyAlgorithm", "SignatureScheme", "SigningError", "key_algorithm", "signature_scheme"]
