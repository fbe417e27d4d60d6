"""Domain errors rendered in each wire dialect. Every OCI error code is declared once, here, with its
HTTP status and default message; every domain error maps to one code per dialect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from moorage.domain import errors as e


@dataclass(frozen=True, slots=True)
class OciCode:
    """An error code of the OCI distribution spec (plus TAG_INVALID, which distribution uses)."""

    code: str
    status: int
    message: str


BLOB_UNKNOWN = OciCode("BLOB_UNKNOWN", 404, "blob unknown to registry")
BLOB_UPLOAD_INVALID = OciCode("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = OciCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DIGEST_INVALID = OciCode("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
MANIFEST_BLOB_UNKNOWN = OciCode("MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown "
                                "to registry")
MANIFEST_INVALID = OciCode("MANIFEST_INVALID", 400, "manifest invalid")
MANIFEST_UNKNOWN = OciCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NAME_INVALID = OciCode("NAME_INVALID", 400, "invalid repository name")
NAME_UNKNOWN = OciCode("NAME_UNKNOWN", 404, "repository name not known to registry")
SIZE_INVALID = OciCode("SIZE_INVALID", 400, "provided length did not match content length")
TAG_INVALID = OciCode("TAG_INVALID", 400, "manifest tag did not match URI")
UNAUTHORIZED = OciCode("UNAUTHORIZED", 401, "authentication required")
DENIED = OciCode("DENIED", 403, "requested access to the resource is denied")
UNSUPPORTED = OciCode("UNSUPPORTED", 405, "the operation is unsupported")
TOOMANYREQUESTS = OciCode("TOOMANYREQUESTS", 429, "too many requests")

# Domain error -> (code, status when it differs from the code's). Looked up along the class's MRO,
# so a new subclass inherits its parent's rendering until it gets a line of its own.
_OCI: dict[type[e.MoorageError], tuple[OciCode, int | None]] = {
    e.NameInvalid: (NAME_INVALID, None),
    e.TagInvalid: (TAG_INVALID, None),
    e.DigestInvalid: (DIGEST_INVALID, None),
    e.UnsupportedDigest: (DIGEST_INVALID, None),
    e.ManifestInvalid: (MANIFEST_INVALID, None),
    e.ManifestBlobUnknown: (MANIFEST_BLOB_UNKNOWN, None),
    e.SizeInvalid: (SIZE_INVALID, None),
    e.UploadInvalid: (BLOB_UPLOAD_INVALID, None),
    e.Invalid: (UNSUPPORTED, 400),
    e.RangeNotSatisfiable: (BLOB_UPLOAD_INVALID, 416),
    e.TooLarge: (SIZE_INVALID, 413),
    e.NameUnknown: (NAME_UNKNOWN, None),
    e.BlobUnknown: (BLOB_UNKNOWN, None),
    e.ManifestUnknown: (MANIFEST_UNKNOWN, None),
    e.UploadUnknown: (BLOB_UPLOAD_UNKNOWN, None),
    e.NotFound: (NAME_UNKNOWN, None),
    e.Unauthenticated: (UNAUTHORIZED, None),
    e.Denied: (DENIED, None),
    e.QuotaExceeded: (DENIED, None),
    e.Conflict: (DENIED, 409),
    e.TooManyRequests: (TOOMANYREQUESTS, None),
    e.Unsupported: (UNSUPPORTED, None),
}


def oci_code_for(error: e.MoorageError) -> tuple[OciCode, int]:
    """The OCI code and HTTP status for a domain error."""
    for cls in type(error).__mro__:
        if cls in _OCI:
            code, status = _OCI[cls]
            return code, status or code.status
    raise LookupError(f"no OCI rendering for {type(error).__name__}")


def oci_error_body(code: OciCode, message: str | None = None, detail: Any = None) -> bytes:
    """``{"errors":[{"code","message","detail"}]}`` as the distribution spec defines it."""
    entry: dict[str, Any] = {"code": code.code, "message": message or code.message}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}).encode()


def oci_error_response(error: e.MoorageError, headers: dict[str, str] | None = None) -> Response:
    """A domain error as an OCI error response."""
    code, status = oci_code_for(error)
    all_headers = dict(headers or {})
    if isinstance(error, e.TooManyRequests):
        all_headers["Retry-After"] = str(error.retry_after)
    return Response(
        oci_error_body(code, error.message, error.detail),
        status_code=status,
        headers=all_headers,
        media_type="application/json",
    )
