"""How ``moorage serve``'s children get their settings and end with it: read again and checked
against the parent's fingerprint; gone within seconds of the parent, however it ended."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest

from moorage import child_process
from moorage.child_process import (
    FINGERPRINT_ENV,
    OVERRIDES_ENV,
    PARENT_ENV,
    READY_FD_ENV,
    ConfigurationMismatch,
    ParentGone,
    child_environment,
    follow_parent,
    report_ready,
    settings_from_parent,
)
from moorage.settings import Settings

KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MOORAGE"):
            monkeypatch.delenv(name)


def _as_parent(monkeypatch: pytest.MonkeyPatch, overrides: dict[str, object]) -> Settings:
    settings = Settings(**overrides)  # type: ignore[arg-type]
    for name, value in child_environment(settings, overrides).items():
        monkeypatch.setenv(name, value)
    return settings


def test_not_started_by_serve() -> None:
    assert settings_from_parent() is None


def test_a_child_reads_the_parents_secrets_intact(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOORAGE_AUTH__MASTER_KEY", KEY)
    config = tmp_path / "moorage.toml"
    config.write_text('redis_url = "redis://:p%40ss@127.0.0.1:6390/0"\n[auth]\nadmin_password = "toml-secret"\n')
    monkeypatch.setenv("MOORAGE_CONFIG", str(config))
    parent = _as_parent(monkeypatch, {"port": 5123, "data_dir": str(tmp_path), "workers": 2})
    child = settings_from_parent()
    assert child is not None and child == parent
    assert child.auth.master_key is not None and child.auth.master_key.get_secret_value() == KEY
    assert child.auth.admin_password is not None and child.auth.admin_password.get_secret_value() == "toml-secret"
    assert (child.port, child.workers, child.redis_url) == (5123, 2, "redis://:p%40ss@127.0.0.1:6390/0")
    assert KEY not in os.environ[OVERRIDES_ENV] + os.environ[FINGERPRINT_ENV]


@pytest.mark.parametrize("change", ["environment", "file"])
def test_a_child_refuses_settings_changed_since_the_parent_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, change: str
) -> None:
    config = tmp_path / "moorage.toml"
    config.write_text('[auth]\nadmin_password = "before"\n')
    monkeypatch.setenv("MOORAGE_CONFIG", str(config))
    monkeypatch.setenv("MOORAGE_AUTH__MASTER_KEY", KEY)
    _as_parent(monkeypatch, {"data_dir": str(tmp_path)})
    if change == "environment":
        monkeypatch.setenv("MOORAGE_AUTH__MASTER_KEY", KEY[::-1])
    else:
        config.write_text('[auth]\nadmin_password = "after"\n')
    with pytest.raises(ConfigurationMismatch, match="restart moorage serve"):
        settings_from_parent()


def test_a_forged_or_missing_fingerprint_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _as_parent(monkeypatch, {"data_dir": str(tmp_path)})
    monkeypatch.setenv(FINGERPRINT_ENV, "zz:00")
    with pytest.raises(ConfigurationMismatch):
        settings_from_parent()


def test_following_a_parent_that_is_already_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARENT_ENV, str(os.getppid() + 100_000))
    monkeypatch.setattr(child_process, "_arm_parent_death_signal", lambda signum: True)
    with pytest.raises(ParentGone):
        follow_parent()


def test_the_server_itself_does_not_follow_anyone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARENT_ENV, str(os.getpid()))
    follow_parent()  # uvicorn in one process builds the application in the server's own process


def test_report_ready_writes_once_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    monkeypatch.setenv(READY_FD_ENV, str(write_end))
    report_ready()
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read() == b"ready"  # EOF: the write end is closed
    assert READY_FD_ENV not in os.environ
    report_ready()  # nothing to report to any more


_CHILD = """
import os, sys, time
from moorage import child_process
if sys.argv[1] == "watch-only":
    child_process._arm_parent_death_signal = lambda signum: False
child_process.follow_parent(grace_seconds=5)
print("following", flush=True)
time.sleep(120)
"""

_PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]],
                         env={**os.environ, "MOORAGE__SERVE_PID": str(os.getpid())})
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("mechanism", ["death-signal", "watch-only"])
def test_a_child_ends_within_seconds_of_a_sigkilled_parent(mechanism: str) -> None:
    """The parent prints its child's pid, the child (sharing its stdout) ``following`` once it follows."""
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD, mechanism], stdout=subprocess.PIPE, text=True)
    child_pid = 0
    try:
        assert parent.stdout is not None
        child_pid = int(_line(parent.stdout, 60))
        assert _line(parent.stdout, 60) == "following"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child_pid and _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)


def _line(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output in time"
    return stream.readline().strip()


def _alive(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
