"""Storage drivers, one module each, built by name with ``create_driver`` (or from the settings with
``driver_from_settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from moorage.storage.interface import StorageDriver

if TYPE_CHECKING:
    from moorage.settings import Settings
    from moorage.storage.drivers.s3_client import S3Config


def create_driver(name: str, *, root: Path, s3: S3Config | None = None) -> StorageDriver:
    """Build the driver called ``name``: ``filesystem`` (under ``root``) or ``s3`` (with ``s3``)."""
    if name == "filesystem":
        from moorage.storage.drivers.filesystem import FilesystemDriver

        return FilesystemDriver(root)
    if name == "s3":
        if s3 is None:
            raise ValueError("the s3 driver needs its configuration")
        from moorage.storage.drivers.s3 import S3Driver

        return S3Driver(s3)
    raise ValueError(f"unknown storage driver {name!r} (known: filesystem, s3)")


def driver_from_settings(settings: Settings) -> StorageDriver:
    """The driver the ``storage`` settings name (credentials read from their files now)."""
    storage = settings.storage
    if storage.driver != "s3":
        return create_driver(storage.driver, root=settings.storage_root)
    from moorage.storage.drivers.s3_client import S3Config

    def secret(value: object, file: Path | None) -> str | None:
        if file is not None:
            return file.read_text().strip()
        reveal = getattr(value, "get_secret_value", None)
        return str(reveal()) if callable(reveal) else None

    config = S3Config(
        bucket=storage.s3_bucket, endpoint=storage.s3_endpoint, region=storage.s3_region, prefix=storage.s3_prefix,
        access_key=secret(storage.s3_access_key, storage.s3_access_key_file),
        secret_key=secret(storage.s3_secret_key, storage.s3_secret_key_file),
        addressing=storage.s3_addressing, verify_tls=storage.s3_verify_tls, ca_bundle=storage.s3_ca_bundle,
        redirect=storage.s3_redirect, redirect_expiry_seconds=storage.s3_redirect_expiry_seconds,
        part_size=storage.s3_part_size, blob_max_bytes=settings.registry.blob_max_bytes,
        max_connections=storage.s3_max_connections)
    return create_driver("s3", root=settings.storage_root, s3=config)
