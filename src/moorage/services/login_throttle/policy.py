"""The login throttle: exponential backoff per (user name, client address) and, gentler, per user name.

- A user name has ``free_failures`` failed logins from one address; then every further attempt from
  that address waits ``backoff * 2**(failures - free_failures)`` seconds (at most ``backoff_max``)
  after the last failure, whatever the password: that is what slows a guesser. Other addresses are
  not held back, so the real user logs in from theirs while an attacker waits at another.
- Across every address, a user name has ``user_free_failures``; past them every attempt waits, doubling
  up to ``user_backoff_max`` (short: a distributed attack delays the real user, never locks them out).
- The same wrong credentials from the same address within ``repeat_seconds`` count once, and are
  answered "wrong" without another password check (containerd sends its token request by POST and
  then again by GET; a client retrying the same guess learns nothing new). Not for request
  signatures: whether one holds depends on the whole request, not only on the header.
- A right password clears its (user, address) counter; the per-user counter decays on its own.
- One attempt of a user name from one address runs at a time per process, so parallel guesses cannot
  all pass the check before the first of them is counted.

Keys are HMAC digests of the user name (case-folded), the address (an IPv6 address by its /64, which
one host can fill) and, for the repeat marker, the credential: the store holds no names, addresses
or secrets, and the HMAC key (from the master key) is the same on every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import math
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from moorage.domain.errors import TooManyRequests
from moorage.services.login_throttle.interface import FailureCount, FailureStore
from moorage.settings.sections import AuthSettings

_MAX_DOUBLINGS = 40
"""2**40 seconds is far past any cap; bounding the exponent keeps the arithmetic in floats."""


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The bounds (see the module docstring); ``from_settings`` maps the ``login_*`` settings."""

    free_failures: int = 10
    backoff: float = 1.0
    backoff_max: float = 300.0
    user_free_failures: int = 100
    user_backoff_max: float = 30.0
    window: float = 900.0
    """Counters are forgotten this long after their last failure (at least the longest wait)."""
    repeat_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> ThrottlePolicy:
        """The policy the ``login_*`` settings describe."""
        return cls(
            free_failures=settings.login_failures_per_window,
            backoff=settings.login_backoff_seconds,
            backoff_max=settings.login_backoff_max_seconds,
            user_free_failures=settings.login_user_failures_per_window,
            user_backoff_max=settings.login_user_backoff_max_seconds,
            window=settings.login_failure_window_seconds,
            repeat_seconds=settings.login_repeat_seconds,
        )

    def wait(self, count: FailureCount | None, *, free: int, cap: float, now: float) -> float:
        """Seconds still to wait before the next attempt under a counter (0: go ahead)."""
        if count is None or count.failures < free:
            return 0.0
        doublings = min(count.failures - free, _MAX_DOUBLINGS)
        return max(0.0, count.last_failure + min(cap, self.backoff * 2.0**doublings) - now)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What the throttle knows about one login attempt before its password is checked."""

    pair_key: str
    user_key: str
    repeat_key: str
    pair_failures: int
    """Failures of this user name from this address (to clear on success)."""


class LoginThrottle:
    """Checks attempts before their password is verified and counts their failures."""

    def __init__(
        self, store: FailureStore, policy: ThrottlePolicy, *, key: bytes, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.policy = policy
        self._key = key
        self._clock = clock
        # Attempts under way per (user, address) key in this process, with how many hold or wait for
        # the lock (the entry goes when none does).
        self._in_flight: dict[str, tuple[asyncio.Lock, int]] = {}

    def _digest(self, *parts: str) -> str:
        return hmac.new(self._key, "\0".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def _attempt(self, user_name: str, client: str, credential: str | None) -> Attempt:
        user = canonical_user(user_name)
        address = address_bucket(client)
        # No credential (a request signature, whose outcome depends on the whole request): a marker
        # nothing else has, so no attempt passes for a repeat of another.
        repeat = self._digest("repeat", user, address, credential) if credential is not None else secrets.token_hex(32)
        return Attempt(self._digest("pair", user, address), self._digest("user", user), repeat, 0)

    @contextlib.asynccontextmanager
    async def attempt(self, *, user_name: str, client: str, credential: str | None) -> AsyncIterator[Attempt | None]:
        """``begin`` for the duration of one login attempt, one attempt of a user name and address at
        a time in this process: a burst of parallel guesses would otherwise all pass the check before
        the first failure is counted. (Across processes and nodes a burst is bounded by their number.)"""
        key = self._attempt(user_name, client, credential).pair_key
        lock, holders = self._in_flight.get(key, (asyncio.Lock(), 0))
        self._in_flight[key] = (lock, holders + 1)
        try:
            async with lock:
                yield await self.begin(user_name=user_name, client=client, credential=credential)
        finally:
            lock, holders = self._in_flight[key]
            if holders <= 1:
                del self._in_flight[key]
            else:
                self._in_flight[key] = (lock, holders - 1)

    async def begin(self, *, user_name: str, client: str, credential: str | None) -> Attempt | None:
        """Before checking a password: None when these exact credentials failed from this address a
        moment ago (answer "wrong" again, count nothing); ``TooManyRequests`` with the seconds to
        wait when this user and address, or this user, must wait; else the attempt to report on.
        Callers that verify a password use ``attempt`` (which calls this)."""
        attempt = self._attempt(user_name, client, credential)
        now = self._clock()
        counts, repeated = await self.store.counts(
            [attempt.pair_key, attempt.user_key], marker=attempt.repeat_key, now=now
        )
        if repeated:
            return None
        policy = self.policy
        pair = counts.get(attempt.pair_key)
        wait = max(
            policy.wait(pair, free=policy.free_failures, cap=policy.backoff_max, now=now),
            policy.wait(
                counts.get(attempt.user_key), free=policy.user_free_failures, cap=policy.user_backoff_max, now=now
            ),
        )
        if wait > 0:
            raise TooManyRequests("too many failed logins; try again later", retry_after=max(1, math.ceil(wait)))
        return Attempt(attempt.pair_key, attempt.user_key, attempt.repeat_key, pair.failures if pair else 0)

    async def failed(self, attempt: Attempt) -> bool:
        """Count a failed attempt (once per repeat window); whether it was counted."""
        policy = self.policy
        return await self.store.record(
            [attempt.pair_key, attempt.user_key],
            once=attempt.repeat_key,
            now=self._clock(),
            ttl=[max(policy.window, policy.backoff_max), max(policy.window, policy.user_backoff_max)],
            once_ttl=policy.repeat_seconds,
        )

    async def succeeded(self, attempt: Attempt) -> None:
        """A right password: this user and address start afresh (nothing written if they had no failure)."""
        if attempt.pair_failures:
            await self.store.clear(attempt.pair_key)


def canonical_user(user_name: str) -> str:
    """One spelling per user name for counting: NFKC, case-folded, at most 128 characters (longer
    names exist nowhere, so their attempts all fail and may share a counter)."""
    return unicodedata.normalize("NFKC", user_name).casefold()[:128]


def address_bucket(client: str) -> str:
    """What one client's attempts are counted under: an IPv4 address, or an IPv6 address's /64
    (a host is usually given a whole /64); anything else as is."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)
