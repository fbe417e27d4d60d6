"""Storage drivers, one module each, built by name with ``create_driver``."""

from __future__ import annotations

from pathlib import Path

from moorage.storage.interface import StorageDriver


def create_driver(name: str, *, root: Path) -> StorageDriver:
    """Build the driver called ``name`` (``filesystem``)."""
    if name == "filesystem":
        from moorage.storage.drivers.filesystem import FilesystemDriver

        return FilesystemDriver(root)
    raise ValueError(f"unknown storage driver {name!r} (known: filesystem)")
