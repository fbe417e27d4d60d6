"""The domain error tree. Services raise these; each API dialect renders them in ``api/errors.py``.

::

    MoorageError
    ├── Invalid                      bad input (400)
    │   ├── NameInvalid              repository / namespace name breaks the naming rules
    │   ├── TagInvalid               tag breaks the tag grammar
    │   ├── DigestInvalid            malformed digest, or content that does not match it
    │   ├── UnsupportedDigest        digest algorithm moorage does not implement
    │   ├── ManifestInvalid          manifest fails to parse or validate
    │   ├── ManifestBlobUnknown      manifest references a blob or manifest the repository lacks
    │   ├── SizeInvalid              declared and actual sizes differ
    │   └── UploadInvalid            an upload request that makes no sense (bad Content-Range...)
    ├── RangeNotSatisfiable          chunk out of order / overlapping, or a bad Range on a blob (416)
    ├── TooLarge                     body beyond a configured limit (413)
    ├── NotFound                     (404)
    │   ├── NameUnknown              repository does not exist
    │   ├── BlobUnknown              blob not in the repository
    │   ├── ManifestUnknown          manifest / tag not in the repository
    │   └── UploadUnknown            no such upload session
    ├── Unauthenticated              no or bad credentials (401)
    ├── Denied                       authenticated but not allowed (403)
    ├── Conflict                     state forbids the change (409)
    ├── QuotaExceeded                a quota would be exceeded (403 in most dialects)
    ├── TooManyRequests              rate limited (429)
    ├── Unsupported                  operation not supported (405)
    ├── NotServed                    an SDK operation moorage does not serve: planned or not applicable (501)
    ├── StorageFull                  the storage device is full or over quota; nothing was stored (507)
    └── StorageUnavailable           the blob store cannot be reached; nothing was stored (503, Retry-After)

Each error has a human ``message``, an optional ``detail`` (JSON-serialisable) for the client, and
an optional ``reason``: a stable symbolic name (``namespace_not_empty``) that a dialect may map to
a more specific code than the class alone gives.
"""

from __future__ import annotations

from typing import Any


class MoorageError(Exception):
    """Root of every error a service may raise on purpose."""

    default_message = "internal error"

    def __init__(self, message: str | None = None, *, detail: Any = None, reason: str = "") -> None:
        self.message = message or self.default_message
        self.detail = detail
        self.reason = reason
        super().__init__(self.message)


class Invalid(MoorageError):
    """The request is malformed or breaks a rule."""

    default_message = "invalid request"


class NameInvalid(Invalid):
    """A repository or namespace name breaks the naming rules."""

    default_message = "invalid repository name"


class TagInvalid(Invalid):
    """A tag breaks the tag grammar."""

    default_message = "invalid tag"


class DigestInvalid(Invalid):
    """A digest is malformed, or content does not match the digest given for it."""

    default_message = "provided digest did not match uploaded content"


class UnsupportedDigest(Invalid):
    """A well-formed digest whose algorithm moorage does not implement."""

    default_message = "unsupported digest algorithm"


class ManifestInvalid(Invalid):
    """A manifest that fails to parse or validate."""

    default_message = "manifest invalid"


class ManifestBlobUnknown(Invalid):
    """A manifest references a blob or child manifest that the repository does not hold."""

    default_message = "blob unknown to registry"


class SizeInvalid(Invalid):
    """Declared and actual content sizes differ."""

    default_message = "provided length did not match content length"


class UploadInvalid(Invalid):
    """An upload request that cannot be applied."""

    default_message = "blob upload invalid"


class RangeNotSatisfiable(MoorageError):
    """A chunk that does not start where the upload ends, or a Range outside a blob."""

    default_message = "requested range not satisfiable"

    def __init__(self, message: str | None = None, *, size: int = 0, detail: Any = None, reason: str = "") -> None:
        super().__init__(message, detail=detail, reason=reason)
        self.size = size
        """Bytes the server holds (so the dialect can answer with the current Range)."""


class TooLarge(MoorageError):
    """A body beyond a configured limit."""

    default_message = "content too large"


class NotFound(MoorageError):
    """The thing asked for does not exist (or the caller may not know that it does)."""

    default_message = "not found"


class NameUnknown(NotFound):
    """The repository does not exist."""

    default_message = "repository name not known to registry"


class BlobUnknown(NotFound):
    """The blob is not in the repository."""

    default_message = "blob unknown to registry"


class ManifestUnknown(NotFound):
    """The manifest or tag is not in the repository."""

    default_message = "manifest unknown"


class UploadUnknown(NotFound):
    """No upload session with that id in that repository."""

    default_message = "blob upload unknown to registry"


class Unauthenticated(MoorageError):
    """No credentials, or credentials that do not check out."""

    default_message = "authentication required"


class Denied(MoorageError):
    """The caller is known but not allowed to do this."""

    default_message = "requested access to the resource is denied"


class Conflict(MoorageError):
    """The current state forbids the change (e.g. deleting a non-empty organization)."""

    default_message = "conflict"


class QuotaExceeded(MoorageError):
    """The change would exceed a quota."""

    default_message = "quota exceeded"


class TooManyRequests(MoorageError):
    """Rate limited; ``retry_after`` says when to come back, in seconds."""

    default_message = "too many requests"

    def __init__(
        self, message: str | None = None, *, retry_after: int = 1, detail: Any = None, reason: str = ""
    ) -> None:
        super().__init__(message, detail=detail, reason=reason)
        self.retry_after = retry_after


class Unsupported(MoorageError):
    """The operation is not supported here."""

    default_message = "the operation is unsupported"


class NotServed(MoorageError):
    """An operation of the official SDKs that moorage does not serve: ``reason`` ``planned`` (a later
    issue) or ``not_applicable`` (hosts, containers, pipelines: nothing a registry has)."""

    default_message = "not implemented in moorage"


class StorageFull(MoorageError):
    """The storage device is full (or the data directory over its quota): what was being written is
    not stored, nothing else changed, and the same request succeeds once space is freed."""

    default_message = "the registry's storage is full: nothing was stored; free space and retry"


class StorageUnavailable(MoorageError):
    """The blob store (an S3-compatible object store) cannot be reached or answers with a server error:
    what was being written is not stored, nothing else changed, and the same request may succeed
    after ``retry_after`` seconds."""

    default_message = "the registry's blob store is unavailable: nothing was stored; retry later"

    def __init__(
        self, message: str | None = None, *, retry_after: int = 10, detail: Any = None, reason: str = ""
    ) -> None:
        super().__init__(message, detail=detail, reason=reason)
        self.retry_after = retry_after
