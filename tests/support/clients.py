"""Run real container clients (podman, buildah, ctr, docker) and their daemons (containerd, dockerd)
from tests, with every path of their own in a private directory.

Unix sockets hold at most 107 bytes of path and podman refuses a run root over 50 characters, so
state lives in a short directory under ``/tmp`` (``state_dir``) rather than in pytest's long
``tmp_path``. A daemon runs in its own process group and is stopped by that group's id; whatever it
left mounted below its state directory is unmounted before the directory is removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ClientError(AssertionError):
    """A client exited with an error; the message holds the command and its output."""


@contextmanager
def state_dir(prefix: str) -> Iterator[Path]:
    """A fresh short directory under /tmp for one client's or daemon's state, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        yield path
    finally:
        unmount_below(path)
        shutil.rmtree(path, ignore_errors=True)


def unmount_below(path: Path) -> None:
    """Lazily unmount every mount point at or below ``path`` (deepest first): a daemon that was
    killed leaves its private bind mounts behind, and a mount point cannot be removed."""
    prefix = str(path.resolve())
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    for point in sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def private_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment that keeps a client off the machine's and the user's configuration: its own
    HOME, config and runtime directories, an empty registries.conf and an empty auth file."""
    home.mkdir(parents=True, exist_ok=True)
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    registries = home / "registries.conf"
    registries.write_text("unqualified-search-registries = []\n")
    auth = home / "auth.json"
    auth.write_text('{"auths": {}}\n')
    return {
        "PATH": SYSTEM_PATH,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_RUNTIME_DIR": str(runtime),
        "TMPDIR": str(home / "tmp"),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "REGISTRY_AUTH_FILE": str(auth),
        **extra,
    }


@dataclass(frozen=True)
class Tool:
    """A command line client: the program with its global options, and its environment."""

    argv: tuple[str, ...]
    env: Mapping[str, str]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run the client and return what it did, whatever its exit status."""
        return subprocess.run(
            [*self.argv, *args],
            env=dict(self.env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 180) -> str:
        """Run the client, fail with its output unless it succeeds, return its standard output."""
        done = self.run(*args, stdin=stdin, timeout=timeout)
        if done.returncode != 0:
            raise ClientError(f"{' '.join([*self.argv, *args])} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout


@dataclass
class Daemon:
    """A daemon child process in its own process group, with the socket it serves on."""

    process: subprocess.Popen[bytes]
    socket_path: Path
    log_path: Path
    argv: Sequence[str] = field(default_factory=tuple)

    def log(self) -> str:
        """Everything the daemon wrote so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group (the daemon and any helper it started), SIGKILL it if it does
        not exit in time."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_daemon(
    argv: Sequence[str],
    *,
    socket_path: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120.0,
) -> Daemon:
    """Start ``argv`` and wait until ``socket_path`` accepts connections; raise with the daemon's log
    when it exits or does not get there in ``timeout`` seconds (a loaded 2-core machine is slow)."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
    daemon = Daemon(process, socket_path, log_path, tuple(argv))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{daemon.log()}")
        if _accepts(socket_path):
            return daemon
        time.sleep(0.1)
    daemon.stop()
    raise RuntimeError(f"{argv[0]} did not listen on {socket_path} within {timeout} s:\n{daemon.log()}")


# Plugins a registry client does not need, and the two that would write outside the state directory
# (the CRI plugin's /etc/cni and /opt/cni, the opt plugin's /opt/containerd).
CONTAINERD_DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.internal.v1.tracing",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
)


@contextmanager
def containerd(root: Path) -> Iterator[Daemon]:
    """containerd, for the ``with`` block, with its root, state, configuration and gRPC socket
    (``root/c.sock``) below ``root``. dockerd is pointed at one too: the containerd it would start
    itself writes /opt/containerd, and dockerd's command line cannot change that."""
    root.mkdir(parents=True, exist_ok=True)
    disabled = ", ".join(f'"{name}"' for name in CONTAINERD_DISABLED_PLUGINS)
    config = root / "containerd.toml"
    config.write_text(
        f'version = 2\nroot = "{root / "root"}"\nstate = "{root / "state"}"\n'
        f"disabled_plugins = [{disabled}]\n"
        f'[grpc]\n  address = "{root / "c.sock"}"\n[ttrpc]\n  address = "{root / "c.sock.ttrpc"}"\n'
        '[debug]\n  address = ""\n[metrics]\n  address = ""\n'
    )
    daemon = start_daemon(
        ["containerd", "--config", str(config)], socket_path=root / "c.sock", log_path=root / "containerd.log"
    )
    try:
        yield daemon
    finally:
        daemon.stop()


def _accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True
