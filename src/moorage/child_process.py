"""How ``moorage serve`` hands its configuration to the processes it starts (the HTTP workers and
the embedded job worker), and how those processes end with it.

Secrets never travel. A child reads the same environment and TOML file as its parent, adds the
parent's command-line values (address, port, data directory, workers: nothing secret), and compares a
keyed fingerprint of the result with the parent's: a child never runs with other values than the
server it belongs to (a masked secret, a file edited since the start) and says so instead. The
variables below are, like the environment the secrets may come from, readable by the same user
only (``/proc/<pid>/environ`` is 0400).

A child ends when its parent does, however the parent ends (SIGKILL included): Linux sends it
SIGTERM (``PR_SET_PDEATHSIG``), and a thread watching the parent's pid does the same where that is
missing or was armed too late; a child still alive a grace period later ends at once.
"""

from __future__ import annotations

import ctypes
import hmac
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping

from moorage.settings import Settings

log = logging.getLogger(__name__)

OVERRIDES_ENV = "MOORAGE__SERVE_OVERRIDES"
"""The parent's command-line settings, as JSON (never a secret)."""
FINGERPRINT_ENV = "MOORAGE__SERVE_FINGERPRINT"
"""``<salt hex>:<hmac hex>`` of the parent's settings (``Settings.fingerprint``)."""
PARENT_ENV = "MOORAGE__SERVE_PID"
"""The process id of ``moorage serve``: its children end when it is gone."""
READY_FD_ENV = "MOORAGE__READY_FD"
"""A pipe the embedded job worker writes ``ready`` to once it takes jobs."""

_PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
"""How often the watch thread looks at the parent's pid."""
PARENT_GONE_GRACE_SECONDS = 10.0
"""How long a child whose parent is gone may take to stop gracefully (finish its requests) before it
ends at once: nobody is left to kill it."""


class ConfigurationMismatch(RuntimeError):
    """A child read other settings than the ``moorage serve`` that started it."""


class ParentGone(RuntimeError):
    """The ``moorage serve`` that started this process ended before it could start."""


def child_environment(settings: Settings, overrides: Mapping[str, object]) -> dict[str, str]:
    """The variables the parent adds to its environment before starting children."""
    salt = secrets.token_bytes(16)
    return {
        OVERRIDES_ENV: json.dumps(dict(overrides), default=str),
        FINGERPRINT_ENV: f"{salt.hex()}:{settings.fingerprint(salt)}",
        PARENT_ENV: str(os.getpid()),
    }


def settings_from_parent() -> Settings | None:
    """The settings of the ``moorage serve`` that started this process, read again from the same
    sources and checked against its fingerprint; None when no ``moorage serve`` started it."""
    raw = os.environ.get(OVERRIDES_ENV)
    if raw is None:
        return None
    overrides = json.loads(raw)
    settings = Settings(**overrides)
    salt_hex, _, expected = os.environ.get(FINGERPRINT_ENV, "").partition(":")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        salt = b""
    if not salt or not hmac.compare_digest(settings.fingerprint(salt), expected):
        raise ConfigurationMismatch(
            "this process reads other settings than the moorage serve that started it (the environment or "
            "the TOML file changed since): restart moorage serve"
        )
    return settings


def _arm_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent ends; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def follow_parent(*, grace_seconds: float = PARENT_GONE_GRACE_SECONDS) -> None:
    """End this process when the ``moorage serve`` that started it ends (nothing when no
    ``moorage serve`` started it, or when this is that process). Raises ``ParentGone`` when the parent
    is already gone."""
    raw = os.environ.get(PARENT_ENV)
    if not raw or not raw.isdigit():
        return
    parent = int(raw)
    if parent == os.getpid():
        return
    _arm_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent:  # it ended before the signal was armed
        raise ParentGone(f"moorage serve (pid {parent}) is gone")
    threading.Thread(target=_watch_parent, args=(parent, grace_seconds), name="parent-watch", daemon=True).start()


def _watch_parent(parent: int, grace_seconds: float) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    log.warning("moorage serve (pid %d) is gone: stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace_seconds)
    os._exit(1)  # the graceful stop did not finish: end now rather than outlive the server


def report_ready() -> None:
    """Tell the parent, through the pipe it passed, that this process has started (nothing when no
    pipe was passed)."""
    raw = os.environ.pop(READY_FD_ENV, None)
    if not raw or not raw.isdigit():
        return
    fd = int(raw)
    try:
        os.write(fd, b"ready")
    except OSError:
        pass
    finally:
        os.close(fd)
