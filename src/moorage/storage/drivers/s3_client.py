"""The S3 driver's connection: configuration, one botocore client per driver, and every call made in
a worker thread with the object store's failures turned into the registry's.

Why botocore (boto3's client) in threads, measured against SeaweedFS 4.48 on loopback on the
project's 2-core machine (bench/s3_client_choice.py, two runs each; put = a 256 MiB multipart upload
in 8 MiB parts, 4 at a time; get = the same object streamed in 1 MiB reads; small = 1 KiB objects,
200 each of PUT, HEAD and GET in sequence, median latency; CPU = the client process)::

    client              put 256 MiB   get 256 MiB   small PUT/HEAD/GET p50   CPU, whole run
    obstore 0.12.1      5.8-10.0 s    0.52-1.03 s   1.7 / 0.8 / 1.1 ms       0.71-0.85 s
    aiobotocore 3.10.0  5.6-11.6 s    0.70-1.27 s   8.0 / 4.8 / 6.0 ms       3.31-3.68 s
    boto3 in threads    5.8-8.3 s     0.57-0.59 s   6.6 / 5.1 / 5.5 ms       2.93-3.41 s

Big transfers are bound by the store (its own CPU: 4.1-4.5 s for the same run), not the client.
obstore is the fastest per request, but its Python API has no multipart upload ids: an upload
cannot be continued by another process or node (CreateMultipartUpload, UploadPart,
ListParts, UploadPartCopy and CompleteMultipartUpload are not exposed), which the resumable,
multi-node uploads need. Of the two clients that have the whole S3 API, boto3's in threads
streamed faster and answered small requests sooner than aiobotocore, with less CPU; it needs no
aiohttp either. botocore alone is used: boto3's resource layer and s3transfer add nothing here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from moorage.domain.errors import StorageUnavailable

T = TypeVar("T")

META_PREFIX = "moorage-"
"""User metadata (``x-amz-meta-moorage-*``) the driver keeps on its own objects."""


@dataclass(frozen=True, slots=True)
class S3Config:
    """Where the bucket is and how to talk to it (built from the ``storage`` settings)."""

    bucket: str
    endpoint: str = ""
    """Empty: AWS S3 for ``region``."""
    region: str = "us-east-1"
    prefix: str = ""
    """Prepended to every key (``registry/``); empty: the bucket's root."""
    access_key: str | None = None
    """None: botocore's default credential chain."""
    secret_key: str | None = None
    addressing: str = "path"
    """``path`` or ``virtual``."""
    verify_tls: bool = True
    ca_bundle: Path | None = None
    redirect: bool = False
    """Whether blob reads are handed out as presigned URLs (``redirect_url``)."""
    redirect_expiry_seconds: int = 300
    part_size: int = 8 << 20
    """Size of the first multipart parts; doubled every ``PARTS_PER_STEP`` parts."""
    blob_max_bytes: int = 1 << 40
    """The largest file an upload may grow to: the part schedule must reach it within 10,000 parts."""
    max_connections: int = 32
    page_size: int = 1000
    """Keys or parts asked for per listing request (S3's maximum is 1000; tests use small pages)."""

    def __repr__(self) -> str:
        return f"S3Config(endpoint={self.endpoint!r}, bucket={self.bucket!r}, prefix={self.prefix!r})"


def make_client(config: S3Config) -> Any:
    """A botocore S3 client (thread-safe; it keeps a connection pool of ``max_connections``)."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    client_config = Config(
        region_name=config.region,
        signature_version="s3v4",
        s3={"addressing_style": config.addressing},
        max_pool_connections=config.max_connections,
        connect_timeout=5,
        read_timeout=60,
        # A few quick retries for a blip; an object store that stays away is reported (503) rather
        # than waited for, and the client retries the request.
        retries={"mode": "standard", "max_attempts": 3},
        # CRC checksums on every request and response cost CPU and are not what guards the content:
        # every blob is checked against its digest.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        tcp_keepalive=True,
    )
    verify: bool | str = str(config.ca_bundle) if config.ca_bundle else config.verify_tls
    return session.create_client(
        "s3",
        endpoint_url=config.endpoint or None,
        aws_access_key_id=config.access_key,
        aws_secret_access_key=config.secret_key,
        verify=verify,
        config=client_config,
    )


def error_code(error: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``404``...), else ``""``."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def http_status(error: BaseException) -> int:
    """The HTTP status of a botocore ``ClientError``, else 0."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_missing(error: BaseException) -> bool:
    """Whether the error says the key (or the multipart upload) does not exist."""
    return error_code(error) in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """The object store unreachable, timing out, or answering 5xx (after botocore's retries) is
    ``StorageUnavailable``: the client gets 503 with Retry-After and can try again."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ClientError as error:
        if http_status(error) >= 500 or error_code(error) in ("SlowDown", "ServiceUnavailable", "InternalError"):
            raise StorageUnavailable(_unavailable(f"it answered {error_code(error) or http_status(error)}")) from error
        raise
    except (BotoCoreError, HTTPError, ConnectionError, TimeoutError) as error:
        raise StorageUnavailable(_unavailable(f"unreachable: {type(error).__name__}")) from error


def _unavailable(why: str) -> str:
    return f"the registry's blob store is unavailable ({why}): nothing was stored; retry later"


async def in_thread(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking botocore call in a worker thread, failures translated."""
    with unavailable_on_failure():
        return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs))


def blocking(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a botocore call in the current (worker) thread, failures translated."""
    with unavailable_on_failure():
        return call(*args, **kwargs)


@dataclass(frozen=True, slots=True)
class ObjectHead:
    """What HEAD (or GET) tells of one object: its body's size, its user metadata and its time."""

    size: int
    """Bytes in the object's body (for a file being written: the bytes after its last part)."""
    metadata: dict[str, str]
    last_modified: float


def head_from(response: dict[str, Any]) -> ObjectHead:
    """An ``ObjectHead`` from a HeadObject or GetObject response (GetObject's ``ContentLength`` is the
    range's; its ``ContentRange`` gives the whole size)."""
    size = int(response.get("ContentLength", 0))
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range and not content_range.endswith("/*"):
        size = int(content_range.rsplit("/", 1)[1])
    modified = response.get("LastModified")
    return ObjectHead(
        size=size,
        metadata={str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()},
        last_modified=modified.timestamp() if modified is not None else 0.0,
    )


class S3Objects:
    """One bucket under one prefix, through one client: the calls the driver and its writers make,
    each in a worker thread with failures translated (``in_thread``)."""

    def __init__(self, config: S3Config, client: Any | None = None) -> None:
        self.config = config
        self.client = client if client is not None else make_client(config)
        prefix = config.prefix.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""

    def key(self, path: str) -> str:
        """The object key of a driver path (``ValueError`` for a path that escapes or is ambiguous)."""
        if not path or path.startswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
            raise ValueError(f"invalid storage path {path!r}")
        return self.prefix + path

    async def head(self, key: str) -> ObjectHead | None:
        """The object's head, or None when there is no such key."""
        from botocore.exceptions import ClientError

        try:
            response = await in_thread(self.client.head_object, Bucket=self.config.bucket, Key=key)
        except ClientError as error:
            if is_missing(error) or http_status(error) == 404:
                return None
            raise
        return head_from(response)

    async def get_bytes(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of an object (small reads only: a tail kept in memory)."""
        if end <= start:
            return b""

        def _get() -> bytes:
            response = self.client.get_object(Bucket=self.config.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            with contextlib.closing(response["Body"]) as body:
                return bytes(body.read())

        return await in_thread(_get)

    async def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        """PutObject: the whole object replaced atomically (durable when S3 answers)."""
        await in_thread(self.client.put_object, Bucket=self.config.bucket, Key=key, Body=body, Metadata=metadata)

    async def delete(self, keys: list[str]) -> None:
        """Delete keys (missing ones are not an error), up to 1000 per request."""
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            if len(batch) == 1:
                await in_thread(self.client.delete_object, Bucket=self.config.bucket, Key=batch[0])
            else:
                await in_thread(
                    self.client.delete_objects,
                    Bucket=self.config.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )

    async def list_keys(self, prefix: str) -> list[tuple[str, float]]:
        """Every key starting with ``prefix`` and its Last-Modified, page by page."""
        found: list[tuple[str, float]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.config.bucket, "Prefix": prefix, "MaxKeys": self.config.page_size}
            if token:
                kwargs["ContinuationToken"] = token
            page = await in_thread(self.client.list_objects_v2, **kwargs)
            found.extend((item["Key"], item["LastModified"].timestamp()) for item in page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    async def list_names(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (which ends with ``/``): objects and common prefixes."""
        names: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Bucket": self.config.bucket,
                "Prefix": prefix,
                "Delimiter": "/",
                "MaxKeys": self.config.page_size,
            }
            if token:
                kwargs["ContinuationToken"] = token
            page = await in_thread(self.client.list_objects_v2, **kwargs)
            # A key ending in "/" is a folder some stores (SeaweedFS) list as an object: not a name.
            names.update(
                item["Key"][len(prefix) :] for item in page.get("Contents", []) if not item["Key"].endswith("/")
            )
            names.update(item["Prefix"][len(prefix) :].rstrip("/") for item in page.get("CommonPrefixes", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return sorted(name for name in names if name)

    async def list_uploads(self, prefix: str) -> list[tuple[str, str, float]]:
        """Multipart uploads in progress whose key starts with ``prefix``: (key, upload id, initiated)."""
        found: list[tuple[str, str, float]] = []
        markers: dict[str, str] = {}
        while True:
            page = await in_thread(
                self.client.list_multipart_uploads,
                Bucket=self.config.bucket,
                Prefix=prefix,
                MaxUploads=self.config.page_size,
                **markers,
            )
            found.extend((u["Key"], u["UploadId"], u["Initiated"].timestamp()) for u in page.get("Uploads", []))
            if not page.get("IsTruncated"):
                return found
            markers = {"KeyMarker": page.get("NextKeyMarker", ""), "UploadIdMarker": page.get("NextUploadIdMarker", "")}

    async def create_upload(self, key: str, metadata: dict[str, str] | None = None) -> str:
        """CreateMultipartUpload; its id."""
        response = await in_thread(
            self.client.create_multipart_upload, Bucket=self.config.bucket, Key=key, Metadata=metadata or {}
        )
        return str(response["UploadId"])

    async def upload_part(self, key: str, upload_id: str, number: int, body: bytes | bytearray) -> str:
        """UploadPart; its ETag."""
        response = await in_thread(
            self.client.upload_part,
            Bucket=self.config.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
        )
        return str(response["ETag"])

    async def copy_part(self, key: str, upload_id: str, number: int, source: str, start: int, end: int) -> str:
        """UploadPartCopy of bytes ``[start, end)`` of ``source``; the part's ETag."""
        response = await in_thread(
            self.client.upload_part_copy,
            Bucket=self.config.bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": self.config.bucket, "Key": source},
            CopySourceRange=f"bytes={start}-{end - 1}",
        )
        return str(response["CopyPartResult"]["ETag"])

    async def list_parts(self, key: str, upload_id: str) -> dict[int, tuple[int, str]]:
        """Every part uploaded so far: number -> (size, ETag), page by page (an upload of more than a
        page of parts is listed whole: distribution/distribution#2814 lost layers over 10 GB this way)."""
        parts: dict[int, tuple[int, str]] = {}
        marker = 0
        while True:
            page = await in_thread(
                self.client.list_parts,
                Bucket=self.config.bucket,
                Key=key,
                UploadId=upload_id,
                MaxParts=self.config.page_size,
                PartNumberMarker=marker,
            )
            for part in page.get("Parts", []):
                parts[int(part["PartNumber"])] = (int(part["Size"]), str(part["ETag"]))
            next_marker = int(page.get("NextPartNumberMarker") or 0)
            if not page.get("IsTruncated") or next_marker <= marker:
                return parts
            marker = next_marker

    async def complete(self, key: str, upload_id: str, etags: list[str]) -> None:
        """CompleteMultipartUpload with parts 1..len(etags): the object appears whole, at once."""
        await in_thread(
            self.client.complete_multipart_upload,
            Bucket=self.config.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]},
        )

    async def abort(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload; an upload already gone is not an error."""
        from botocore.exceptions import ClientError

        try:
            await in_thread(self.client.abort_multipart_upload, Bucket=self.config.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if not (is_missing(error) or http_status(error) == 404):
                raise
