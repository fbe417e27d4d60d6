"""What goes wrong talking to another registry, as one hierarchy (no HTTP library imported here).

Every error has two texts: ``str(error)`` is the detail for the server log (URLs, addresses,
library messages; never credentials), ``error.public`` says what failed in general terms and is
the only text a tenant may be shown, so an answer never tells which internal addresses exist or
which ports are open::

    RegistryError                  the registry answered in a way moorage cannot use
    ├── AuthenticationError        credentials refused, or needed and missing
    ├── NotFoundError              no such repository, manifest or blob
    ├── BlobDigestError            content does not hash to its digest
    ├── UnreachableError           no usable HTTP answer (DNS, connect, TLS, reset, timeout)
    ├── EgressDenied               the egress policy refuses the address or the redirect
    └── TransferLimitError         an answer larger or deeper than allowed
        └── ImageTooLargeError     the image's layers passed the image size limit
"""

from __future__ import annotations


class RegistryError(Exception):
    """A registry answered with an error, or not in a way we can use."""

    public = "the registry answered in a way moorage cannot use"
    """What a tenant may be told (overridden per instance with ``public=``)."""

    def __init__(
        self, message: str, *, status: int = 0, codes: tuple[str, ...] = (), public: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes
        if public is not None:
            self.public = public


class AuthenticationError(RegistryError):
    """The registry refused our credentials (or we have none and it wants some)."""

    public = "the registry refused the credentials (authentication failed)"


class NotFoundError(RegistryError):
    """The repository, manifest or blob does not exist."""

    public = "the registry has no such repository, manifest or blob"


class BlobDigestError(RegistryError):
    """A downloaded blob does not hash to its digest."""

    public = "content downloaded from the registry does not match its digest"


class UnreachableError(RegistryError):
    """No usable HTTP answer: name resolution, connection, TLS, a reset or a timeout."""

    public = "the registry could not be reached"


class EgressDenied(RegistryError):
    """The egress policy refuses the address a request would connect to (after resolution), or a
    redirect to a scheme other than http and https."""

    public = "the registry's address is not allowed by the egress policy"


class TransferLimitError(RegistryError):
    """An answer larger than allowed (or than declared), or JSON nested deeper than allowed."""

    public = "the registry sent more data than allowed"


class ImageTooLargeError(TransferLimitError):
    """The bytes actually downloaded for one image passed its size limit."""

    public = "the image is larger than the scan size limit"


def public_reason(error: BaseException) -> str:
    """What a tenant may be told about ``error`` (anything not from the client reads as unreachable)."""
    if isinstance(error, RegistryError):
        return error.public
    return UnreachableError.public
