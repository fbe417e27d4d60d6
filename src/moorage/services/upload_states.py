"""Signed upload states: a session started without a database row carries its state in the
``_state`` parameter of its Location (as the OCI reference implementation does), so a push that
sends its whole blob in the closing PUT costs one write transaction instead of three.

The state is the session's start time and an HMAC over it, the upload id, the instance and the
repository, under a key derived from the master key (every node shares it; ``system_facts`` checks
that they do), so any node can verify it and none can be fooled into another repository's session.
What the state cannot say, whether the session was used up, lives in ``upload_claims``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from moorage.domain.clock import now_ms
from moorage.domain.errors import UploadInvalid, UploadUnknown
from moorage.domain.registry import UploadTarget

STATE_PURPOSE = "upload-state"
"""The master key's derivation label for upload states."""
_VERSION = b"moorage-upload-state-1"
_MAC_BYTES = 16
_HEX = frozenset("0123456789abcdef")


class UploadStates:
    """Sign and verify the ``_state`` of sessions started without a row."""

    def __init__(self, key: bytes, *, lifetime_seconds: float) -> None:
        self._key = key
        self.lifetime_ms = int(lifetime_seconds * 1000)
        """A state older than this is refused, as a session untouched this long is purged."""

    def _mac(self, upload_id: str, target: UploadTarget, created_ms: int) -> str:
        message = b"\n".join(
            (_VERSION, upload_id.encode(), target.instance_id.encode(), str(target.name).encode(), b"%d" % created_ms)
        )
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, upload_id: str, target: UploadTarget, created_ms: int) -> str:
        """The state of a new session (URL-safe: hex digits, a dot, base64url)."""
        return f"{created_ms:x}.{self._mac(upload_id, target, created_ms)}"

    def verify(self, state: str, *, upload_id: str, target: UploadTarget) -> int:
        """The session's start time (ms) if ``state`` was signed for this upload id, instance and
        repository. ``UploadInvalid`` when it is not a state at all; ``UploadUnknown`` when it was not
        signed for this session (altered, or another repository's: as for a session with a row, the
        repository does not know it) or is older than the sessions' lifetime."""
        created_text, dot, mac = state.partition(".")
        if not dot or not 0 < len(created_text) <= 16 or not _HEX.issuperset(created_text) or len(mac) > 64:
            raise UploadInvalid("the upload's state is malformed", detail={"upload": upload_id})
        created_ms = int(created_text, 16)
        if not hmac.compare_digest(mac.encode(), self._mac(upload_id, target, created_ms).encode()):
            raise UploadUnknown(f"upload {upload_id} unknown", detail={"upload": upload_id})
        if now_ms() - created_ms > self.lifetime_ms:
            raise UploadUnknown(f"upload {upload_id} unknown (expired)", detail={"upload": upload_id})
        return created_ms
