"""The master key: encrypts secrets at rest (access-key secrets, signing keys, registry credentials)
and derives the keys that sign tokens, so every node that shares it can check every token.

It comes from the ``MOORAGE_MASTER_KEY`` setting (base64 of 32 bytes) or, on a single node, from
``<data_dir>/master.key``, generated on first start with mode 0600. It is never logged.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from moorage.settings import Settings

KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"\x01"


class SecretDecryptionError(Exception):
    """Ciphertext that this master key did not produce, or that was altered."""


class MasterKeyMismatch(Exception):
    """This process's master key is not the one the database was first started with: another node's
    tokens would fail here and the secrets stored could not be decrypted."""


CHECK_PURPOSE = "master-key-check"


class MasterKey:
    """AES-256-GCM encryption of small secrets and HKDF derivation of purpose-bound keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the master key must be {KEY_BYTES} bytes")
        self._key = key
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "MasterKey(<redacted>)"

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """From the base64 text form (the setting and the key file both hold it)."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise ValueError("the master key is not valid base64") from exc
        return cls(raw)

    @classmethod
    def load_or_create(cls, path: Path) -> MasterKey:
        """Read the key file, or create it (0600, atomically) when it does not exist yet."""
        if path.exists():
            return cls.from_text(path.read_text())
        path.parent.mkdir(parents=True, exist_ok=True)
        text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process created it first: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return cls.from_text(path.read_text())

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext``; ``context`` (e.g. ``access-key:<AK>``) binds the ciphertext to its row."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.b64encode(_VERSION + nonce + sealed).decode()

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        """Decrypt what ``encrypt`` produced with the same ``context``."""
        try:
            raw = base64.b64decode(ciphertext, validate=True)
            if raw[:1] != _VERSION:
                raise SecretDecryptionError("unknown ciphertext version")
            nonce, sealed = raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
            return self._aead.decrypt(nonce, sealed, context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretDecryptionError("cannot decrypt: wrong master key or altered data") from exc

    def check_value(self) -> str:
        """A value that names this key without revealing it (an HKDF output of its own purpose): two
        processes have the same key exactly when their check values are equal."""
        return base64.b64encode(self.derive(CHECK_PURPOSE, 16)).decode()

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose (``iam-token``, ``registry-token``...), independent of the others."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"moorage", info=purpose.encode()).derive(self._key)


def load_master_key(settings: Settings) -> MasterKey:
    """The configured master key, or the data directory's key file (created on first start)."""
    if settings.auth.master_key is not None:
        return MasterKey.from_text(settings.auth.master_key.get_secret_value())
    return MasterKey.load_or_create(settings.data_dir / "master.key")
