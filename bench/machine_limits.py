"""The machine's own limits, measured in the same run as the registries: sha256, disk, loopback.

A registry cannot push a blob faster than it can hash it, write it durably, or receive it over
the loopback, so large-blob figures are judged against the lowest of the three.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 4 << 20


@dataclass(frozen=True)
class MachineLimits:
    """Single-stream throughputs in MB/s (10^6 bytes per second)."""

    sha256_mbps: float
    disk_fsync_write_mbps: float
    loopback_tcp_mbps: float

    @property
    def lowest_mbps(self) -> float:
        """The tightest of the three: what a large-blob push or pull can hope to approach."""
        return min(self.sha256_mbps, self.disk_fsync_write_mbps, self.loopback_tcp_mbps)


def _block() -> memoryview:
    return memoryview(os.urandom(_BLOCK))


def sha256_mbps(total_bytes: int) -> float:
    """hashlib's sha256 over ``total_bytes`` fed in 4 MiB pieces, on one core."""
    block = _block()
    digest = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(max(1, total_bytes // _BLOCK)):
        digest.update(block)
    return max(1, total_bytes // _BLOCK) * _BLOCK / (time.perf_counter() - started) / 1e6


def disk_fsync_write_mbps(directory: Path, total_bytes: int) -> float:
    """Write ``total_bytes`` to a new file in ``directory`` and fsync it; the file is removed after."""
    block = _block()
    path = directory / f"disk-probe-{os.getpid()}.bin"
    pieces = max(1, total_bytes // _BLOCK)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(pieces):
            os.write(descriptor, block)
        os.fsync(descriptor)
        elapsed = time.perf_counter() - started
    finally:
        os.close(descriptor)
        path.unlink()
    return pieces * _BLOCK / elapsed / 1e6


def loopback_tcp_mbps(total_bytes: int) -> float:
    """One TCP connection on 127.0.0.1: a thread sends ``total_bytes``, another receives and drops them."""
    block = _block()
    pieces = max(1, total_bytes // _BLOCK)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def sink() -> None:
            connection, _ = listener.accept()
            scratch = memoryview(bytearray(_BLOCK))
            with connection:
                while connection.recv_into(scratch):
                    pass

        receiver = threading.Thread(target=sink, daemon=True)
        receiver.start()
        with socket.create_connection(listener.getsockname()) as sender:
            started = time.perf_counter()
            for _ in range(pieces):
                sender.sendall(block)
            sender.shutdown(socket.SHUT_WR)
            receiver.join()
            elapsed = time.perf_counter() - started
    return pieces * _BLOCK / elapsed / 1e6


def measure(directory: Path, total_bytes: int) -> MachineLimits:
    """All three limits, each over ``total_bytes`` (disk on ``directory``, the registries' disk)."""
    return MachineLimits(
        sha256_mbps=sha256_mbps(total_bytes),
        disk_fsync_write_mbps=disk_fsync_write_mbps(directory, total_bytes),
        loopback_tcp_mbps=loopback_tcp_mbps(total_bytes),
    )
