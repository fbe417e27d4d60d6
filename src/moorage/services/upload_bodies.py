"""What arrives in an upload: the running hash of a session on this node (``HashCache``) and a small
body received whole, checked against its Content-Length and its digest."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator

from moorage.domain.digests import Digest, Hasher, new_hasher
from moorage.domain.errors import DigestInvalid, SizeInvalid


class HashCache:
    """Running sha256 of recent sessions on this node, keyed by session id (bounded, LRU)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._entries: OrderedDict[str, tuple[int, Hasher]] = OrderedDict()
        self._capacity = capacity

    def take(self, upload_id: str, size: int) -> Hasher | None:
        """The hasher if it has seen exactly ``size`` bytes of the session (it is removed: the caller
        puts it back with ``put`` when the chunk succeeds)."""
        entry = self._entries.pop(upload_id, None)
        if entry is None or entry[0] != size:
            return None
        return entry[1]

    def put(self, upload_id: str, size: int, hasher: Hasher) -> None:
        """Remember the hasher after ``size`` bytes."""
        self._entries[upload_id] = (size, hasher)
        self._entries.move_to_end(upload_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        """Forget a session."""
        self._entries.pop(upload_id, None)


def mismatch(digest: Digest, data: bytes) -> DigestInvalid:
    actual = new_hasher(digest.algorithm)
    actual.update(data)
    return DigestInvalid(
        f"content digest {digest.algorithm}:{actual.hexdigest()} does not match {digest}",
        detail={"digest": str(digest)},
    )


async def replay(data: bytes) -> AsyncIterator[bytes]:
    """A body already received, as the chunk stream the session path reads."""
    yield data


async def receive_exactly(chunks: AsyncIterable[bytes], length: int) -> bytes:
    """A small body, whole: ``SizeInvalid`` unless it is exactly ``length`` bytes (Content-Length)."""
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) > length:
            raise SizeInvalid(f"received more than the {length} bytes of Content-Length")
    if len(data) != length:
        raise SizeInvalid(f"received {len(data)} bytes, Content-Length said {length}")
    return bytes(data)
