"""Running the ASGI application under granian or uvicorn, in one process or several workers, with the
embedded job worker beside them.

Children get their settings as ``child_process.py`` describes (read again from the same sources,
checked by fingerprint: never a masked secret) and end with the server. The server refuses to run
half-started: when an HTTP worker or the job worker cannot start, it stops everything it started
and exits with status 1.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from types import FrameType
from typing import NoReturn

import setproctitle
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from moorage.child_process import (
    READY_FD_ENV,
    child_environment,
    follow_parent,
    settings_from_parent,
)
from moorage.server_protocols import BoundedHttpToolsProtocol
from moorage.settings import Settings

log = logging.getLogger(__name__)

UVICORN_WORKER_HEALTHCHECK_SECONDS = 30
"""How long uvicorn's supervisor waits for a worker's answer before it calls it hung."""
JOB_WORKER_STOP_SECONDS = 30.0
"""How long the job worker may take to stop (its running jobs are taken over by lease otherwise)."""


class ServerFailed(Exception):
    """A process of the server could not start, or died: the server has stopped."""


class _StopRequested(BaseException):
    """SIGTERM or SIGINT arrived before the HTTP server took over their handling. A BaseException,
    as KeyboardInterrupt is: raised wherever the main thread happens to be, it must not be taken for
    an error by an ``except Exception`` in the code it interrupts (the HTTP server's start swallowed
    it there, and a server stopped while starting went on serving)."""


def app_factory() -> object:
    """Build the application in an HTTP worker from the settings of the ``moorage serve`` that started
    it. A worker that cannot start says why on one line and exits with uvicorn's start-up failure
    status, which stops the server (granian stops on any worker exit)."""
    try:
        follow_parent()
        settings = settings_from_parent()
        if settings is None:
            raise RuntimeError("moorage.server:app_factory runs under moorage serve only")
        from moorage.app import create_app

        return create_app(settings)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        print(f"moorage: an HTTP worker could not start: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(STARTUP_FAILURE) from exc


_STOPPED_ON_REQUEST = frozenset({0, -signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP})
"""Exit statuses of a job worker that was asked to stop: neither a failure nor a reason to restart it."""


class JobWorker:
    """The embedded ``moorage worker`` child (a process of its own: scans are CPU work that must not
    share the web server's interpreter), watched by a thread. It reports through a pipe once it takes
    jobs; one that fails before that stops the server (it cannot start), one that dies later is
    started again, one stopped by a signal is left stopped."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | ForkedChild | None = None
        self.failure: str | None = None
        self._watch: threading.Thread | None = None

    def start(self) -> None:
        """Start the child and its watch: forked from this process when no other thread runs here yet
        (``moorage serve`` before its HTTP server starts), else as a new ``moorage worker``."""
        ready = self._spawn(fork=threading.active_count() == 1)
        self._watch = threading.Thread(target=self._supervise, args=(ready,), name="job-worker-watch", daemon=True)
        self._watch.start()

    def _spawn(self, *, fork: bool = False) -> int:
        """A new child; the read end of its readiness pipe. A restart is never forked: by then this
        process runs the HTTP server's threads, and a fork copies whatever locks they hold."""
        read_end, write_end = os.pipe()
        try:
            with self._lock:
                if self._stopping.is_set():
                    raise _StopRequested()
                if fork:
                    self.process = ForkedChild.start(
                        lambda: _run_forked_job_worker(self._settings, write_end, read_end)
                    )
                    return read_end
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "moorage", "worker"],
                    env={**os.environ, READY_FD_ENV: str(write_end)},
                    pass_fds=(write_end,),
                )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return read_end

    def _supervise(self, ready: int) -> None:
        while True:
            started = _wait_ready(ready)
            process = self.process
            assert process is not None
            status = process.wait()
            if self._stopping.is_set():
                return
            if status in _STOPPED_ON_REQUEST:  # a signal sent to it (or to the whole process group)
                log.warning("moorage: the job worker stopped (status %s)", status)
                return
            if not started:
                self._fail(f"the job worker could not start (exit status {status})")
                return
            log.error("moorage: the job worker exited (status %s): starting it again", status)
            try:
                ready = self._spawn()
            except _StopRequested:
                return
            except Exception as exc:
                self._fail(f"the job worker could not be started again: {exc}")
                return

    def _fail(self, failure: str) -> None:
        """Stop the server (SIGTERM to this process: whichever HTTP server runs handles it)."""
        self.failure = failure
        log.error("moorage: %s: stopping", failure)
        os.kill(os.getpid(), signal.SIGTERM)

    def stop(self) -> None:
        """Stop the child: SIGTERM, then SIGKILL after ``JOB_WORKER_STOP_SECONDS``."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(JOB_WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ForkedChild:
    """A child forked from this process, with the part of ``subprocess.Popen`` the job worker's watch
    and ``stop`` use. Only ``wait()`` without a timeout reaps it (the watch thread, which always ends
    up there while the child lives); ``poll`` and ``wait(timeout)`` see what it reaped, so no two
    threads call ``waitpid`` on one pid (the second would get ECHILD, or a reused pid's status)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._reaped = threading.Event()

    @classmethod
    def start(cls, run: Callable[[], NoReturn]) -> ForkedChild:
        """Fork; the child runs ``run``, which never returns."""
        pid = os.fork()
        if pid == 0:
            run()
        return cls(pid)

    def wait(self, timeout: float | None = None) -> int:
        """The child's exit status (negative: the signal that ended it), as ``Popen.wait``."""
        if timeout is None and not self._reaped.is_set():
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # another thread's wait() reaped it meanwhile (stop, after a kill)
                self._reaped.wait()
            else:
                self.returncode = os.waitstatus_to_exitcode(status)
                self._reaped.set()
        elif not self._reaped.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def poll(self) -> int | None:
        """The exit status once reaped, else None."""
        return self.returncode

    def terminate(self) -> None:
        """SIGTERM, unless it is reaped already."""
        if not self._reaped.is_set():
            os.kill(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, unless it is reaped already."""
        if not self._reaped.is_set():
            os.kill(self.pid, signal.SIGKILL)


def _run_forked_job_worker(settings: Settings, ready: int, parents_end: int) -> NoReturn:
    """The job worker, in the child of a fork: what ``moorage worker`` does when ``moorage serve``
    starts it, less what the parent did already (settings, logging, bootstrap). Never returns."""
    status = 1
    try:
        os.close(parents_end)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)  # the parent's handlers raise into its own frames
        os.environ[READY_FD_ENV] = str(ready)
        # What ps and whoever looks for the worker by its command line see, as when it was started as
        # one (short: with SPT_NOENV the title has only the room of this process's own command line).
        setproctitle.setproctitle("moorage worker")
        follow_parent()
        from moorage.jobs.worker import run_worker

        run_worker(settings)
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc(file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _wait_ready(fd: int) -> bool:
    """Whether the child wrote ``ready`` before closing the pipe (by exiting, or after writing)."""
    try:
        with os.fdopen(fd, "rb") as pipe:
            return pipe.read() == b"ready"
    except OSError:
        return False


def run_server(settings: Settings, *, overrides: Mapping[str, object]) -> None:
    """Serve until SIGTERM or SIGINT. ``overrides`` are the command-line values the settings were built
    with; children build theirs from them and the same environment and TOML file. Raises
    ``ServerFailed`` when a process could not start or died, after stopping every other one."""
    _check_addresses(settings)  # before any child starts: a taken port is a one-line error, not a traceback
    os.environ.update(child_environment(settings, overrides))
    # setproctitle (granian's process names, the forked job worker's) would otherwise take the memory of
    # the environment for longer titles, and /proc/<pid>/environ of every process would lose it.
    os.environ["SPT_NOENV"] = "1"
    job_worker = JobWorker(settings) if settings.jobs.embedded_worker else None
    if job_worker is not None or settings.server == "granian":
        # The job worker and granian's HTTP workers are forked from this process: the modules they
        # run, imported here once, are theirs at fork (pages shared until written) instead of imported
        # again by each. Measured on the 2-vCPU machine: about 3 s of CPU per child.
        import moorage.app
        import moorage.jobs.worker  # noqa: F401
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    http_failure: str | None = None
    try:
        if job_worker is not None:
            job_worker.start()
        log.warning(
            "moorage starting on %s (data in %s, external URL %s)",
            ", ".join(f"http://{h}:{settings.port}" for h in settings.listen_hosts),
            settings.data_dir,
            settings.resolved_external_url,
        )
        http_failure = _serve(settings)
    except _StopRequested:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if job_worker is not None:
            job_worker.stop()
    if http_failure is not None:
        raise ServerFailed(http_failure)
    if job_worker is not None and job_worker.failure is not None:
        raise ServerFailed(job_worker.failure)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested()


def bind_sockets(hosts: list[str], port: int) -> list[socket.socket]:
    """One listening TCP socket per address (IPv4 or IPv6), all on ``port``; closed again if any
    address cannot be bound, so a half-started server never lingers."""
    sockets: list[socket.socket] = []
    try:
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _check_addresses(settings: Settings) -> None:
    """Raise ``ServerFailed`` when an address cannot be listened on (taken, not local)."""
    for host in settings.listen_hosts:
        try:
            for sock in bind_sockets([host], settings.port):
                sock.close()
        except OSError as error:
            raise ServerFailed(f"cannot listen on {host}:{settings.port}: {error.strerror or error}") from error


def _serve(settings: Settings) -> str | None:
    """Run the HTTP server; a description of the failure when an HTTP worker stopped it."""
    if settings.server == "granian" and len(settings.listen_hosts) == 1:
        return _serve_granian(settings)
    return _serve_uvicorn(settings)


def _serve_granian(settings: Settings) -> str | None:
    """Granian: HTTP in Rust, request bodies handed over in large pieces, files sent by ``pathsend``
    (see the README's design notes for the measurements that chose it). Granian stops, with status 1,
    when any worker exits on its own (it does not respawn failed workers)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    # hyper buffers at most this much of a request head (and refuses more than 100 headers); the
    # buffer also carries body reads, so it never goes below granian's default (408 KiB). Body pieces
    # are as large as it (1,284 per 512 MiB push); 1, 4 and 16 MiB showed no CPU gain per push clear
    # of the noise (bench/push_bench.py) and would let a 1 MiB head through instead of a 431.
    head_buffer = max(settings.http.max_header_bytes, HTTP1Settings.max_buffer_size)
    try:
        Granian(
            "moorage.server:app_factory",
            factory=True,
            address=settings.listen_hosts[0],
            port=settings.port,
            interface=Interfaces.ASGI,
            http=HTTPModes.http1,
            websockets=False,
            workers=settings.http_workers,
            log_enabled=False,
            backlog=2048,
            http1_settings=HTTP1Settings(max_buffer_size=head_buffer),
            workers_kill_timeout=settings.http.stop_timeout_seconds,
            # Granian retitles its processes when setproctitle is installed (moorage needs it for
            # the forked job worker): keep this command's line, and "worker-N" after it for each worker.
            process_name=" ".join(sys.orig_argv),
        ).serve()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return "an HTTP worker could not start or exited (its error is above)"
    return None


def _serve_uvicorn(settings: Settings) -> str | None:
    """Bind every listen address ourselves and hand the sockets to uvicorn (one process or several
    workers sharing them): uvicorn alone binds a single address (granian too: several addresses mean uvicorn)."""
    config = uvicorn.Config(
        "moorage.server:app_factory",
        factory=True,
        port=settings.port,
        workers=settings.http_workers if settings.http_workers > 1 else None,
        log_level="warning",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=30,
        http=BoundedHttpToolsProtocol,  # httptools with a bound on the head (uvicorn bounds only h11's)
        h11_max_incomplete_event_size=settings.http.max_header_bytes,
        # A worker still starting on a busy machine is not hung: at uvicorn's 5 s it is killed and
        # started again, over and over, before it can even report a start-up failure.
        timeout_worker_healthcheck=UVICORN_WORKER_HEALTHCHECK_SECONDS,
        timeout_graceful_shutdown=settings.http.stop_timeout_seconds,
    )
    sockets = bind_sockets(settings.listen_hosts, settings.port)
    try:
        if config.workers > 1:
            supervisor = Multiprocess(config, sockets=sockets)
            supervisor.run()
            # uvicorn stops (and returns normally) when a worker fails at start-up
            if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
                return "an HTTP worker could not start (its error is above)"
        else:
            server = uvicorn.Server(config)
            server.run(sockets=sockets)
    except SystemExit as exc:  # one process: the application failed to load in this very process
        if exc.code not in (0, None):
            return "the HTTP server could not start (its error is above)"
    finally:
        for sock in sockets:
            sock.close()
    return None
