"""Domain errors rendered in each wire dialect. Every OCI error code is declared once, here, with its
HTTP status and default message; every domain error maps to one code per dialect."""

from __future__ import annotations

import json
import re
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
MANIFEST_BLOB_UNKNOWN = OciCode(
    "MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"
)
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
UNKNOWN = OciCode("UNKNOWN", 500, "unknown error")
UNAVAILABLE = OciCode("UNAVAILABLE", 503, "service unavailable")
"""The code distribution uses for 503 (its errcode.ErrorCodeUnavailable), not one of the spec's."""

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
    e.NotServed: (UNSUPPORTED, 501),
    e.StorageFull: (UNKNOWN, 507),
    e.StorageUnavailable: (UNAVAILABLE, None),
    e.MoorageError: (UNKNOWN, None),
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
    all_headers = {**(headers or {}), **_extra_headers(error)}
    return Response(
        oci_error_body(code, error.message, error.detail),
        status_code=status,
        headers=all_headers,
        media_type="application/json",
    )


# Management dialects ---------------------------------------------------------------------------
# SWR documents {"errorCode", "errorMessage", "detail"}; the Huawei SDKs read {"error_code", "error_msg"}.
# moorage answers with both pairs so documentation-based scripts and the SDKs both understand.


@dataclass(frozen=True, slots=True)
class ManagementCode:
    """An error code of a management dialect with its HTTP status."""

    code: str
    status: int


# Domain error class -> SWR code, looked up along the MRO; a ``reason`` entry wins over the class entry.
# The codes and statuses are SWR's documented ones (the appendix "Error Codes" of the SWR API
# reference, opentelekomcloud-docs/software-repository-container api-ref/source/appendixes/error_code.rst);
# the ones marked "moorage" have no documented counterpart and keep SWR's numbering scheme
# (SVCSTG.SWR.<status><number>).
SWR_BY_CLASS: dict[type[e.MoorageError], ManagementCode] = {
    e.Unauthenticated: ManagementCode("SVCSTG.SWR.4010000", 401),  # Authentication failed
    e.Denied: ManagementCode("SVCSTG.SWR.4039002", 403),  # No permission to perform this operation
    e.QuotaExceeded: ManagementCode("SVCSTG.SWR.4030001", 403),  # moorage: a quota without its own code
    e.DigestInvalid: ManagementCode("SVCSTG.SWR.4000013", 400),  # Invalid digest
    e.NameInvalid: ManagementCode("SVCSTG.SWR.4001008", 400),  # Invalid organization or name
    e.Invalid: ManagementCode("SVCSTG.SWR.4000014", 400),  # Invalid parameter
    e.ManifestUnknown: ManagementCode("SVCSTG.SWR.4040048", 404),  # The image tag does not exist
    e.NotFound: ManagementCode("SVCSTG.SWR.4040010", 404),  # The image does not exist
    e.Conflict: ManagementCode("SVCSTG.SWR.4090006", 409),  # The image already exists
    e.TooLarge: ManagementCode("SVCSTG.SWR.4130025", 413),  # The file exceeds the maximum size allowed
    e.TooManyRequests: ManagementCode("SVCSTG.SWR.4290000", 429),  # moorage (SWR answers 403 4031042)
    e.Unsupported: ManagementCode("SVCSTG.SWR.4050000", 405),  # moorage: method not allowed
    e.NotServed: ManagementCode("SVCSTG.SWR.5010001", 501),  # moorage: planned, not implemented yet
    e.RangeNotSatisfiable: ManagementCode("SVCSTG.SWR.4000014", 400),
    e.StorageFull: ManagementCode("SVCSTG.SWR.5070000", 507),  # moorage: storage full
    e.StorageUnavailable: ManagementCode("SVCSTG.SWR.5030000", 503),  # moorage: blob store unreachable
    e.MoorageError: ManagementCode("SVCSTG.SWR.5000007", 500),  # Internal server error: Operation fails
}
SWR_BY_REASON: dict[str, ManagementCode] = {
    "namespace_invalid": ManagementCode("SVCSTG.SWR.4001028", 400),  # Invalid organization name
    "repository_invalid": ManagementCode("SVCSTG.SWR.4001029", 400),  # Invalid image name
    "namespace_not_found": ManagementCode("SVCSTG.SWR.4040058", 404),  # The organization does not exist
    "repository_not_found": ManagementCode("SVCSTG.SWR.4040010", 404),  # The image does not exist
    "tag_not_found": ManagementCode("SVCSTG.SWR.4040048", 404),  # The image tag does not exist
    "grant_not_found": ManagementCode("SVCSTG.SWR.4040091", 404),  # The permission does not exist
    "share_not_found": ManagementCode("SVCSTG.SWR.4040091", 404),  # The permission does not exist
    "route_not_found": ManagementCode("SVCSTG.SWR.4040083", 404),  # The requested URL cannot be found
    "version_not_found": ManagementCode("SVCSTG.SWR.4040083", 404),  # The requested URL cannot be found
    "namespace_exists": ManagementCode("SVCSTG.SWR.4090060", 409),  # The organization already exists
    "repository_exists": ManagementCode("SVCSTG.SWR.4090006", 409),  # The image already exists
    "tag_exists": ManagementCode("SVCSTG.SWR.4090006", 409),  # The image already exists
    "share_exists": ManagementCode("SVCSTG.SWR.4090089", 409),  # The permission already exists
    "namespace_not_empty": ManagementCode("SVCSTG.SWR.4060012", 406),  # ... contains images: delete them first
    "repository_not_empty": ManagementCode("SVCSTG.SWR.4060012", 406),
    "namespace_quota": ManagementCode("SVCSTG.SWR.4000097", 400),  # Maximum number of organizations exceeded
    "repository_quota": ManagementCode("SVCSTG.SWR.4000098", 400),  # Maximum number of images exceeded
    "immutable_tag": ManagementCode("SVCSTG.SWR.4030010", 403),  # moorage: the tag is immutable
    "invalid_filter": ManagementCode("SVCSTG.SWR.4001035", 400),  # Invalid filtering criteria
    "invalid_page_size": ManagementCode("SVCSTG.SWR.4000056", 400),  # Invalid page size
    "invalid_domain": ManagementCode("SVCSTG.SWR.4001041", 400),  # Invalid domain
    "invalid_permit": ManagementCode("SVCSTG.SWR.4001066", 400),  # Invalid permissions
    "invalid_parameter": ManagementCode("SVCSTG.SWR.4001025", 400),  # Invalid parameter
    "not_applicable": ManagementCode("SVCSTG.SWR.5010002", 501),  # moorage: does not apply to a registry
}

HSS_BY_CLASS: dict[type[e.MoorageError], ManagementCode] = {
    e.Unauthenticated: ManagementCode("HSS.0001", 401),
    e.Denied: ManagementCode("HSS.0003", 403),
    e.Invalid: ManagementCode("HSS.1001", 400),
    e.NotFound: ManagementCode("HSS.1004", 404),
    e.Conflict: ManagementCode("HSS.1009", 409),
    e.QuotaExceeded: ManagementCode("HSS.1010", 403),
    e.TooLarge: ManagementCode("HSS.1013", 413),
    e.TooManyRequests: ManagementCode("HSS.0429", 429),
    e.Unsupported: ManagementCode("HSS.1005", 405),
    e.NotServed: ManagementCode("HSS.0501", 501),  # moorage: planned, not implemented yet
    e.RangeNotSatisfiable: ManagementCode("HSS.1001", 400),
    e.StorageFull: ManagementCode("HSS.0507", 507),
    e.StorageUnavailable: ManagementCode("HSS.0503", 503),
    e.MoorageError: ManagementCode("HSS.0500", 500),
}
HSS_BY_REASON: dict[str, ManagementCode] = {
    "not_applicable": ManagementCode("HSS.0502", 501),  # moorage: hosts, containers, pipelines: not a registry's
}

_IAM_STATUS: dict[type[e.MoorageError], int] = {
    e.Unauthenticated: 401,
    e.Denied: 403,
    e.Invalid: 400,
    e.NotFound: 404,
    e.Conflict: 409,
    e.TooLarge: 413,
    e.RangeNotSatisfiable: 400,
    e.TooManyRequests: 429,
    e.QuotaExceeded: 403,
    e.Unsupported: 405,
    e.NotServed: 501,
    e.StorageFull: 507,
    e.StorageUnavailable: 503,
    e.MoorageError: 500,
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    507: "Insufficient Storage",
}


def _lookup(
    error: e.MoorageError, by_class: dict[type[e.MoorageError], ManagementCode], by_reason: dict[str, ManagementCode]
) -> ManagementCode:
    if error.reason and error.reason in by_reason:
        return by_reason[error.reason]
    for cls in type(error).__mro__:
        if cls in by_class:
            return by_class[cls]
    raise LookupError(type(error).__name__)


def _extra_headers(error: e.MoorageError) -> dict[str, str]:
    """``Retry-After`` for the errors that say when to come back (rate limits, an unreachable store)."""
    if isinstance(error, e.TooManyRequests | e.StorageUnavailable):
        return {"Retry-After": str(error.retry_after)}
    return {}


def swr_error_response(error: e.MoorageError) -> Response:
    """An SWR management error: both key pairs, ``detail`` a string."""
    code = _lookup(error, SWR_BY_CLASS, SWR_BY_REASON)
    detail = error.detail if isinstance(error.detail, str) else (json.dumps(error.detail) if error.detail else "")
    body = {
        "errorCode": code.code,
        "errorMessage": error.message,
        "error_code": code.code,
        "error_msg": error.message,
        "detail": detail,
    }
    return Response(
        json.dumps(body), status_code=code.status, media_type="application/json", headers=_extra_headers(error)
    )


def enterprise_error_response(error: e.MoorageError) -> Response:
    """The Enterprise Edition error body (as ListInstanceSignatureExecutionSubtasks documents it):
    ``error_code``, ``error_msg``, ``encoded_authorization_message``."""
    code = _lookup(error, SWR_BY_CLASS, SWR_BY_REASON)
    body = {"error_code": code.code, "error_msg": error.message, "encoded_authorization_message": ""}
    return Response(
        json.dumps(body), status_code=code.status, media_type="application/json", headers=_extra_headers(error)
    )


def hss_error_response(error: e.MoorageError) -> Response:
    """An HSS error: ``error_code`` / ``error_msg``."""
    code = _lookup(error, HSS_BY_CLASS, HSS_BY_REASON)
    body = {"error_code": code.code, "error_msg": error.message}
    return Response(
        json.dumps(body), status_code=code.status, media_type="application/json", headers=_extra_headers(error)
    )


def iam_error_response(error: e.MoorageError) -> Response:
    """A Keystone-style IAM error: ``{"error": {"code", "message", "title"}}``."""
    status = 500
    for cls in type(error).__mro__:
        if cls in _IAM_STATUS:
            status = _IAM_STATUS[cls]
            break
    body = {"error": {"code": status, "message": error.message, "title": _TITLES.get(status, "Error")}}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=_extra_headers(error))


_ENTERPRISE_PROJECT_PATH = re.compile(r"^/v2/[0-9a-f]{32}/(?:jobs|repositories|feature-gates)(?:/|$)")
"""Enterprise Edition routes under a project that do not name an instance."""


def dialect_for_path(path: str) -> str:
    """Which dialect a management path speaks: ``iam``, ``hss``, ``enterprise`` or ``swr``."""
    if path.startswith(("/v3/auth", "/v3/projects", "/v3/users", "/v3.0/")):
        return "iam"
    if path.startswith("/v5/"):
        return "hss"
    if (
        path.startswith("/v2/")
        and not path.startswith("/v2/manage")
        and ("/instances" in path or _ENTERPRISE_PROJECT_PATH.match(path))
    ):
        return "enterprise"
    return "swr"


def management_error_response(error: e.MoorageError, path: str) -> Response:
    """A domain error rendered in the dialect of the route at ``path``."""
    dialect = dialect_for_path(path)
    if dialect == "iam":
        return iam_error_response(error)
    if dialect == "hss":
        return hss_error_response(error)
    if dialect == "enterprise":
        return enterprise_error_response(error)
    return swr_error_response(error)


def console_status(error: e.MoorageError) -> tuple[int, str]:
    """The web console's rendering of a domain error: the HTTP status of its error page and the
    page's title (the statuses IAM uses: the console signs in IAM users)."""
    for cls in type(error).__mro__:
        if cls in _IAM_STATUS:
            status = _IAM_STATUS[cls]
            return status, _TITLES.get(status, "Error")
    return 500, _TITLES[500]
