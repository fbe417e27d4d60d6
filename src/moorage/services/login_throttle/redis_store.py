"""Failed-login counters in Redis (when ``redis_url`` is set): one hash per key (``failures``,
``last``) with the key's expiry; the repeat marker is a ``SET NX`` with its own expiry."""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from moorage.services.login_throttle.interface import FailureCount

PREFIX = "moorage:login:"


class RedisFailureStore:
    """``FailureStore`` on Redis."""

    def __init__(self, url: str) -> None:
        self.client: Redis = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    async def counts(self, keys: Sequence[str], *, marker: str, now: float) -> tuple[dict[str, FailureCount], bool]:
        """The unexpired counters among ``keys`` (Redis expires them itself) and whether ``marker`` is set."""
        async with self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(PREFIX + key, "failures", "last")
            pipe.exists(PREFIX + marker)
            *replies, marked = await pipe.execute()
        found: dict[str, FailureCount] = {}
        for key, (failures, last) in zip(keys, replies, strict=True):
            if failures is not None and last is not None:
                found[key] = FailureCount(int(failures), float(last))
        return found, bool(marked)

    async def record(
        self, keys: Sequence[str], *, once: str, now: float, ttl: Sequence[float], once_ttl: float
    ) -> bool:
        """Count a failure under ``keys`` unless ``once`` was marked lately (``MULTI`` per failure)."""
        if not await self.client.set(PREFIX + once, b"1", nx=True, px=max(1, int(once_ttl * 1000))):
            return False
        async with self.client.pipeline(transaction=True) as pipe:
            for key, seconds in zip(keys, ttl, strict=True):
                pipe.hincrby(PREFIX + key, "failures", 1)
                pipe.hset(PREFIX + key, "last", repr(now))
                pipe.pexpire(PREFIX + key, max(1, int(seconds * 1000)))
            await pipe.execute()
        return True

    async def clear(self, key: str) -> None:
        """Forget one counter."""
        await self.client.delete(PREFIX + key)
