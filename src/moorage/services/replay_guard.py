"""An SDK-signed request is not accepted again later: the signature (an HMAC over method, path,
query, signed headers, body and X-Sdk-Date) is recorded in the database when the request is
accepted, and the same signature is refused, on every node, once a few seconds have passed since
its first use, for as long as its X-Sdk-Date would be accepted at all (15 minutes).

Why a few seconds and not at once: X-Sdk-Date has one-second resolution, so two requests a client
means to send (the same write twice in a loop, a poll, the SDK's retry, which re-signs but within
the same second gets the same signature, or urllib3's retry, which resends the very request) are
byte for byte the same when they are signed within one second. They reach the server within about
a second of each other; a replay made from a log, a proxy's record or a leaked trace comes later.
"""

from __future__ import annotations

from datetime import datetime

from moorage.domain.errors import Unauthenticated
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import seen_signatures as q

CLOCK_MARGIN_MS = 60_000
"""A record outlives its signature's freshness by this much, for nodes whose clocks disagree."""


class SignatureReplayGuard:
    """The replay record of SDK signatures (see the module docstring)."""

    def __init__(self, db: Database, *, max_age_seconds: int, repeat_seconds: float) -> None:
        self.db = db
        self.max_age_ms = max_age_seconds * 1000
        self.repeat_ms = int(repeat_seconds * 1000)

    async def check(self, signature: str, *, signed_at: datetime) -> None:
        """Record this use of ``signature``; raise ``Unauthenticated`` when it was first used more
        than ``repeat_seconds`` ago (a replay)."""
        now = now_ms()
        expires_at = int(signed_at.timestamp() * 1000) + self.max_age_ms + CLOCK_MARGIN_MS
        first_seen = await self.db.write(lambda conn: q.claim(conn, signature, now=now, expires_at=expires_at))
        if first_seen is not None and now - first_seen > self.repeat_ms:
            raise Unauthenticated(
                "this signed request was already accepted: sign each request anew", reason="signature_replayed"
            )
