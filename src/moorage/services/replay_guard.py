"""Each SDK-signed request is accepted once: the signature (an HMAC over method, path, query,
signed headers, body and X-Sdk-Date) is recorded in the database when the request is accepted, and
a second request with the same signature is refused, on every node, for as long as its
X-Sdk-Date is fresh enough to be accepted at all.

Two exceptions keep the SDKs' own retries working (a retry re-signs, but X-Sdk-Date has one-second
resolution, so a retry within the same second carries the same signature, and urllib3's retries
resend the very same request):

- a request whose answer was an error is forgotten again (:meth:`SignatureReplayGuard.release`):
  nothing happened, so its retry may happen once;
- a GET or HEAD is accepted again within ``repeat_seconds`` of its first use (polls and retries
  after a lost answer), never later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from moorage.domain.errors import Unauthenticated
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import seen_signatures as q

CLOCK_MARGIN_MS = 60_000
"""A record outlives its signature's freshness by this much, for nodes whose clocks disagree."""
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class SignatureClaim:
    """A recorded first use, to release if the request fails."""

    signature: str
    first_seen_at: int


class SignatureReplayGuard:
    """The replay record of SDK signatures (see the module docstring)."""

    def __init__(self, db: Database, *, max_age_seconds: int, repeat_seconds: float) -> None:
        self.db = db
        self.max_age_ms = max_age_seconds * 1000
        self.repeat_ms = int(repeat_seconds * 1000)

    async def claim(self, signature: str, *, signed_at: datetime, method: str) -> SignatureClaim | None:
        """Record this use of ``signature``; raise ``Unauthenticated`` when it is a replay. Returns
        the claim to release on failure (None for an accepted repeat, which has nothing to release)."""
        now = now_ms()
        expires_at = int(signed_at.timestamp() * 1000) + self.max_age_ms + CLOCK_MARGIN_MS
        first_seen = await self.db.write(lambda conn: q.claim(conn, signature, now=now, expires_at=expires_at))
        if first_seen is None:
            return SignatureClaim(signature, now)
        if method.upper() in SAFE_METHODS and now - first_seen <= self.repeat_ms:
            return None
        raise Unauthenticated("this signed request was already accepted once: sign each request anew",
                              reason="signature_replayed")

    async def release(self, claim: SignatureClaim) -> None:
        """Forget a claim whose request failed (so that the SDK's retry is accepted)."""
        await self.db.write(lambda conn: q.forget(conn, claim.signature, first_seen_at=claim.first_seen_at))
