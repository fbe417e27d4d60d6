"""``moorage.server.ForkedChild``: the part of ``subprocess.Popen`` the job worker's watch uses, for a
child forked from ``moorage serve``. One thread reaps it; the others see what that one reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import NoReturn

import pytest

from moorage.server import ForkedChild


def _sleep_then_exit(status: int, seconds: float) -> NoReturn:
    time.sleep(seconds)
    os._exit(status)


def test_wait_reaps_the_status_and_the_others_see_it() -> None:
    child = ForkedChild.start(lambda: _sleep_then_exit(7, 0.3))
    assert child.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.05)  # nobody reaped it yet
    seen: list[int] = []
    watch = threading.Thread(target=lambda: seen.append(child.wait()))
    watch.start()
    assert child.wait(10) == 7  # a timed wait returns what the watch reaped
    watch.join(10)
    assert seen == [7] and child.poll() == 7


def test_terminate_ends_it_with_the_signal_and_is_harmless_once_reaped() -> None:
    child = ForkedChild.start(lambda: _sleep_then_exit(0, 60))
    child.terminate()
    assert child.wait() == -signal.SIGTERM
    child.terminate()  # reaped: no signal goes to a pid that may be someone else's now
    child.kill()
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)  # reaped exactly once


def test_two_untimed_waits_both_return_the_status() -> None:
    """``stop`` waits without a timeout after a SIGKILL while the watch thread waits too: one reaps,
    the other returns what it reaped instead of failing on ECHILD."""
    child = ForkedChild.start(lambda: _sleep_then_exit(3, 0.5))
    results: list[int] = []
    waiters = [threading.Thread(target=lambda: results.append(child.wait())) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join(10)
    assert results == [3, 3]
