"""The login throttle on each of its stores (SQLite, PostgreSQL, Redis, all real): exponential backoff
per user and address, the gentler bound per user, repeats counted once, spellings of one user and
one IPv6 /64 counted together, counters forgotten after the window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from moorage.domain.errors import TooManyRequests
from moorage.metadata.database import Database
from moorage.metadata.migrate import upgrade
from moorage.services.login_throttle import (
    DatabaseFailureStore,
    FailureStore,
    LoginThrottle,
    RedisFailureStore,
    ThrottlePolicy,
)
from moorage.services.login_throttle.policy import address_bucket, canonical_user
from tests.support import redis_server

POLICY = ThrottlePolicy(
    free_failures=3,
    backoff=2.0,
    backoff_max=16.0,
    user_free_failures=100,
    user_backoff_max=4.0,
    window=60.0,
    repeat_seconds=5.0,
)
USER_BOUND = ThrottlePolicy(
    free_failures=3,
    backoff=2.0,
    backoff_max=16.0,
    user_free_failures=6,
    user_backoff_max=4.0,
    window=60.0,
    repeat_seconds=5.0,
)


class Clock:
    """Time that moves when the test says (starts now, so Redis's own expiry agrees)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FailureStore]:
    if request.param == "redis":
        with redis_server.running(tmp_path) as url:
            yield RedisFailureStore(url)
        return
    url = f"sqlite:///{tmp_path / 'm.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database_url")
    db = Database(url)
    upgrade(db)
    try:
        yield DatabaseFailureStore(db)
    finally:
        db.dispose()


def throttle(store: FailureStore, clock: Clock, policy: ThrottlePolicy = POLICY) -> LoginThrottle:
    return LoginThrottle(store, policy, key=b"k" * 32, clock=clock)


async def fail(limiter: LoginThrottle, user: str, client: str, credential: str) -> None:
    attempt = await limiter.begin(user_name=user, client=client, credential=credential)
    assert attempt is not None
    assert await limiter.failed(attempt)


async def waits(limiter: LoginThrottle, user: str, client: str, credential: str = "x") -> int:
    """The Retry-After the throttle answers (0: the attempt may go ahead)."""
    try:
        await limiter.begin(user_name=user, client=client, credential=credential)
    except TooManyRequests as error:
        return error.retry_after
    return 0


async def test_backoff_doubles_per_address_and_spares_other_addresses(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock)
    for i in range(3):
        assert await waits(limiter, "alice", "192.0.2.1") == 0
        await fail(limiter, "alice", "192.0.2.1", f"guess-{i}")
    assert await waits(limiter, "alice", "192.0.2.1") == 2  # the free failures are used: 2 s
    assert await waits(limiter, "alice", "192.0.2.2") == 0  # another address is not held back
    assert await waits(limiter, "bob", "192.0.2.1") == 0  # nor another user
    wait = 2
    for i, expected in enumerate([4, 8, 16, 16]):  # doubling, up to the cap
        clock.now += wait - 0.01
        assert await waits(limiter, "alice", "192.0.2.1") == 1  # not quite yet
        clock.now += 0.01
        await fail(limiter, "alice", "192.0.2.1", f"more-{i}")
        wait = await waits(limiter, "alice", "192.0.2.1")
        assert wait == expected


async def test_a_right_password_clears_its_own_address_only(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock)
    for i in range(3):
        await fail(limiter, "carol", "192.0.2.1", f"g{i}")
        await fail(limiter, "carol", "192.0.2.9", f"g{i}")
    clock.now += 2.5
    attempt = await limiter.begin(user_name="carol", client="192.0.2.1", credential="right")
    assert attempt is not None and attempt.pair_failures == 3
    await limiter.succeeded(attempt)
    await fail(limiter, "carol", "192.0.2.1", "after")
    assert await waits(limiter, "carol", "192.0.2.1") == 0  # one failure since the success
    kept = await limiter.begin(user_name="carol", client="192.0.2.9", credential="right")
    assert kept is not None and kept.pair_failures == 3  # the other address keeps its count


async def test_the_user_bound_slows_a_spread_attack_gently(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock, USER_BOUND)
    for i in range(6):  # one failure from each of six addresses: no address is held back...
        await fail(limiter, "dave", f"198.51.100.{i}", f"g{i}")
    # ...but the user has used its six: every address waits, the clean one too, briefly.
    assert await waits(limiter, "dave", "203.0.113.50") == 2
    clock.now += 2
    assert await waits(limiter, "dave", "203.0.113.50") == 0
    waited = []
    for i in range(6, 10):
        await fail(limiter, "dave", f"198.51.100.{i}", f"g{i}")
        waited.append(await waits(limiter, "dave", "203.0.113.50"))
        clock.now += waited[-1]
    assert waited == [4, 4, 4, 4]  # 2 s doubled, then capped at user_backoff_max


async def test_the_same_wrong_credentials_count_once(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock, ThrottlePolicy(free_failures=3, repeat_seconds=0.5))
    await fail(limiter, "erin", "192.0.2.1", "same")
    # containerd's GET fallback with the same password: answered without a count.
    assert await limiter.begin(user_name="erin", client="192.0.2.1", credential="same") is None
    other = await limiter.begin(user_name="erin", client="192.0.2.1", credential="other")
    assert other is not None and other.pair_failures == 1
    clock.now += 0.6  # past the repeat window: the same guess counts again
    time.sleep(0.6)  # (Redis expires the marker on its own clock)
    again = await limiter.begin(user_name="erin", client="192.0.2.1", credential="same")
    assert again is not None
    assert await limiter.failed(again)
    # A second report of one attempt (two nodes racing) counts once.
    assert not await limiter.failed(again)
    final = await limiter.begin(user_name="erin", client="192.0.2.1", credential="third")
    assert final is not None and final.pair_failures == 2


async def test_spellings_and_an_ipv6_64_share_a_counter(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock)
    for i, (user, client) in enumerate(
        [
            ("Frank", "2001:db8:1:2::1"),
            ("FRANK", "2001:db8:1:2::ffff"),
            ("\uff46\uff52\uff41\uff4e\uff4b", "2001:db8:1:2:abcd::9"),
        ]
    ):  # fullwidth
        await fail(limiter, user, client, f"g{i}")
    assert await waits(limiter, "frank", "2001:db8:1:2:ffff:ffff:ffff:ffff") == 2
    assert await waits(limiter, "frank", "2001:db8:1:3::1") == 0  # the next /64 is another client


async def test_counters_are_forgotten_after_the_window(store: FailureStore) -> None:
    policy = ThrottlePolicy(
        free_failures=2,
        backoff=0.5,
        backoff_max=1.0,
        user_free_failures=50,
        user_backoff_max=1.0,
        window=1.0,
        repeat_seconds=0.0,
    )
    limiter = throttle(store, time.time, policy)  # type: ignore[arg-type]
    await fail(limiter, "gina", "192.0.2.1", "a")
    await fail(limiter, "gina", "192.0.2.1", "b")
    assert await waits(limiter, "gina", "192.0.2.1") == 1
    time.sleep(1.3)
    fresh = await limiter.begin(user_name="gina", client="192.0.2.1", credential="c")
    assert fresh is not None and fresh.pair_failures == 0


def test_keys_normalise() -> None:
    assert canonical_user("\uff21\uff24\uff2d\uff29\uff2e") == canonical_user("admin") == canonical_user("Admin")
    assert address_bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_bucket("2001:db8::1") == address_bucket("2001:db8::ffff") == "2001:db8::/64"
    assert address_bucket("testclient") == "testclient"


async def test_parallel_guesses_from_one_address_pass_one_at_a_time(store: FailureStore) -> None:
    clock = Clock()
    limiter = throttle(store, clock)

    async def guess(i: int) -> bool:
        """One login attempt that takes a while to verify its (wrong) password; whether it was let in."""
        try:
            async with limiter.attempt(user_name="hana", client="192.0.2.1", credential=f"g{i}") as attempt:
                assert attempt is not None
                await asyncio.sleep(0.01)
                await limiter.failed(attempt)
                return True
        except TooManyRequests:
            return False

    let_in = await asyncio.gather(*(guess(i) for i in range(20)))
    assert sum(let_in) == POLICY.free_failures  # not 20: each waits for the one before it to be counted
    assert not limiter._in_flight  # nothing left behind


async def test_signature_checks_are_never_taken_for_repeats(store: FailureStore) -> None:
    """A request signature holds or not by the whole request: a failed one says nothing about the next
    request with the same Authorization header (another body, path...), which is checked and counted."""
    limiter = throttle(store, Clock())
    first = await limiter.begin(user_name="AKEXAMPLE", client="192.0.2.1", credential=None)
    assert first is not None and await limiter.failed(first)
    second = await limiter.begin(user_name="AKEXAMPLE", client="192.0.2.1", credential=None)
    assert second is not None and second.pair_failures == 1
    assert await limiter.failed(second)
