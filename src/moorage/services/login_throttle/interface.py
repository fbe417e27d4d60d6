"""What a login-failure store keeps and does: counters with an expiry, shared by every worker and node
(the database by default, Redis when ``redis_url`` is set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FailureCount:
    """The failed logins counted under one key."""

    failures: int
    """How many, since the counter was last cleared or expired."""
    last_failure: float
    """When the latest one happened (epoch seconds)."""


class FailureStore(Protocol):
    """Counters of failed logins, keyed by opaque strings (the policy hashes user names and addresses
    into them), each forgotten ``ttl`` seconds after its last failure."""

    async def counts(self, keys: Sequence[str], *, marker: str, now: float) -> tuple[dict[str, FailureCount], bool]:
        """The unexpired counters among ``keys`` (a key without one is absent from the answer), and
        whether the marker ``marker`` is set (see ``record``). One round trip."""
        ...

    async def record(
        self, keys: Sequence[str], *, once: str, now: float, ttl: Sequence[float], once_ttl: float
    ) -> bool:
        """Count one failure under each of ``keys`` (``ttl[i]`` for ``keys[i]``), unless the marker
        ``once`` was recorded less than ``once_ttl`` seconds ago; then count nothing. Marks ``once``
        either way and answers whether the failure was counted."""
        ...

    async def clear(self, key: str) -> None:
        """Forget the counter ``key`` (a right password from that user and address)."""
        ...
