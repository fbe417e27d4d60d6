"""The storage section of moorage's settings (``MOORAGE_STORAGE__<NAME>``): where blobs live, the S3
driver's bounds, and how blob reads may be handed to the object store or to nginx; a section of the
root ``Settings`` (``__init__.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_ACCEL_PREFIX = re.compile(r"(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._~-]+)+")
"""``/segment[/segment...]`` without ``.`` or ``..`` segments or a trailing slash."""


class StorageSettings(BaseModel):
    """Where blobs live."""

    model_config = ConfigDict(use_attribute_docstrings=True, hide_input_in_errors=True)

    driver: Literal["filesystem", "s3"] = "filesystem"
    """Storage driver: ``filesystem`` (under ``root``) or ``s3`` (any S3-compatible object store: the
    ``s3_*`` settings; README "S3 storage")."""
    root: Path | None = None
    """Filesystem driver root; default ``<data_dir>/storage``."""
    direct_writes: bool = False
    """Filesystem driver: write upload data with ``O_DIRECT`` where the filesystem takes it (checked at
    start), from page-aligned buffers straight to the disk instead of through the page cache. On the
    2-vCPU VM of the benchmarks, where a new page-cache page is dear, it halved the server CPU of a
    512 MiB push (about 2.0 to 1.0 s) and doubled its rate; but the blob is then not in the page
    cache, and a pull right after the push read it from the disk at 115-122 MB/s where one from the
    page cache went at 767-1,079. Durability is the same either way (fsync before the blob is
    acknowledged). For registries where pushes of large layers dominate, or whose page cache would
    not keep them anyway."""
    s3_endpoint: str = ""
    """S3 driver: the object store's URL (``https://s3.example.com``, ``http://127.0.0.1:8333``); empty
    means AWS S3 in ``s3_region``."""
    s3_region: str = "us-east-1"
    """S3 driver: the region requests are signed for (most S3-compatible stores accept any)."""
    s3_bucket: str = ""
    """S3 driver: the bucket (it must exist; moorage never creates or deletes buckets)."""
    s3_prefix: str = ""
    """S3 driver: a key prefix under which moorage keeps everything (``registry/``), so a bucket can
    be shared; empty: the bucket's root."""
    s3_access_key: SecretStr | None = None
    """S3 driver: the access key id. With neither this nor ``s3_access_key_file``, the AWS default
    chain is used (``AWS_*`` environment, shared credentials file, instance role)."""
    s3_access_key_file: Path | None = None
    """S3 driver: a file holding the access key id (a mounted secret); wins over ``s3_access_key``."""
    s3_secret_key: SecretStr | None = None
    """S3 driver: the secret access key; never logged or shown by ``moorage config``."""
    s3_secret_key_file: Path | None = None
    """S3 driver: a file holding the secret access key; wins over ``s3_secret_key``."""
    s3_addressing: Literal["path", "virtual"] = "path"
    """S3 driver: ``path`` (``endpoint/bucket/key``: SeaweedFS, MinIO, Ceph RGW, IP endpoints) or
    ``virtual`` (``bucket.endpoint/key``: AWS S3 and OBS as they prefer it)."""
    s3_verify_tls: bool = True
    """S3 driver: check the object store's TLS certificate (switch off only for a test store)."""
    s3_ca_bundle: Path | None = None
    """S3 driver: a PEM file of CA certificates to check the object store's certificate with (a
    private CA), instead of the system's."""
    s3_redirect: bool = False
    """S3 driver: answer blob GETs with 307 to a presigned URL of the object store, so blob bytes go
    from the store to the client without passing through moorage (clients must reach the endpoint;
    ranges work both ways). Off: moorage streams every blob."""
    s3_redirect_expiry_seconds: int = Field(default=300, ge=10, le=7 * 24 * 3600)
    """S3 driver: how long a presigned blob URL stays valid (a client starts its download within it)."""
    s3_part_size: int = Field(default=8 << 20, ge=5 << 20, le=512 << 20)
    """S3 driver: size of the first multipart-upload parts (S3's minimum is 5 MiB); each thousand parts
    doubles it, so 10,000 parts always hold more than ``registry.blob_max_bytes``. Each upload in
    progress holds up to three parts in memory."""
    s3_max_connections: int = Field(default=32, ge=1, le=1024)
    """S3 driver: connections kept open to the object store per process."""
    accel_redirect_prefix: str = ""
    """Filesystem driver behind nginx: answer a blob GET moorage has authorized with an empty 200 and
    ``X-Accel-Redirect: <prefix>/<algorithm>/<xx>/<hex>/data`` (the blob's file under
    ``<root>/blobs``), so nginx sends the file itself with sendfile; the shipped site file's internal
    location is ``/_moorage/blobs``. nginx must see the data directory (same machine or a shared
    filesystem), and ``trusted_proxies`` must name it: only its requests get the redirect (a client
    reaching the node directly gets the bytes). Empty: moorage sends blobs itself."""

    @field_validator("accel_redirect_prefix")
    @classmethod
    def _accel_prefix_is_a_plain_path(cls, value: str) -> str:
        # It becomes the start of a URI nginx resolves internally: plain path segments only.
        if value and not _ACCEL_PREFIX.fullmatch(value):
            raise ValueError("storage.accel_redirect_prefix must be an absolute URI path such as /_moorage/blobs")
        return value

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> StorageSettings:
        if self.driver == "s3" and not self.s3_bucket.strip():
            raise ValueError("the s3 storage driver needs storage.s3_bucket (MOORAGE_STORAGE__S3_BUCKET)")
        if self.driver == "s3" and self.accel_redirect_prefix:
            raise ValueError(
                "storage.accel_redirect_prefix serves files of the filesystem driver; with s3, use storage.s3_redirect"
            )
        return self
