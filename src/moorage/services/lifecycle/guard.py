"""What a writer does, inside its transaction and the collector's fence, before it links a blob it
stored or found stored: make sure the bytes are there. The collector (or a refused push taking back
the file it made: ``WholeBodyUploads._withdraw``) may have deleted them between the writer's look at
storage and its transaction; then they are put back from the writer's own copy
(its upload data, or the bytes it holds in memory), or the push is refused (it cannot be linked to
bytes that are gone). Storage is reached through the event loop that started the transaction
(``anyio.from_thread``), so a transaction that must reach it runs in the database's worker thread: one
started on the loop (``Database.write(quick=True)``) moves there first (``off_the_loop``)."""

from __future__ import annotations

import anyio.from_thread

from moorage.domain.digests import Digest
from moorage.domain.errors import UploadInvalid
from moorage.metadata.database import off_the_loop
from moorage.storage.blobstore import BlobStore


def secure_blob(store: BlobStore, digest: Digest, *, upload_id: str | None = None, data: bytes | None = None) -> None:
    """Make sure ``digest``'s bytes are stored, from the upload's data or ``data`` when they are
    not; ``UploadInvalid`` when they are gone and the caller has no copy. Call after
    ``writer_fence`` in a transaction run by ``Database.write``."""
    local = store.local_path(digest)
    if local is not None and local.is_file():
        return  # (a local file is looked at right here: no hop to the event loop inside the transaction)
    off_the_loop()
    if local is None and anyio.from_thread.run(store.stat, digest) is not None:
        return
    if upload_id is not None:
        anyio.from_thread.run(store.adopt_upload, upload_id, digest)
    elif data is not None:
        anyio.from_thread.run(store.put_verified, digest, data)
    else:
        raise UploadInvalid(
            f"blob {digest} was removed by garbage collection while this push stored it: upload it again",
            detail={"digest": str(digest)},
        )
