"""Storage drivers, one module each, built by name with ``create_driver`` (from the settings:
``moorage.services.wiring.storage_driver``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from moorage.storage.interface import StorageDriver

if TYPE_CHECKING:
    from moorage.storage.drivers.s3_client import S3Config


def create_driver(name: str, *, root: Path, s3: S3Config | None = None, direct_writes: bool = False) -> StorageDriver:
    """Build the driver called ``name``: ``filesystem`` (under ``root``; upload data written with
    ``O_DIRECT`` where it can be, with ``direct_writes``) or ``s3`` (with ``s3``)."""
    if name == "filesystem":
        from moorage.storage.drivers.filesystem import FilesystemDriver

        return FilesystemDriver(root, direct_writes=direct_writes)
    if name == "s3":
        if s3 is None:
            raise ValueError("the s3 driver needs its configuration")
        from moorage.storage.drivers.s3 import S3Driver

        return S3Driver(s3)
    raise ValueError(f"unknown storage driver {name!r} (known: filesystem, s3)")
