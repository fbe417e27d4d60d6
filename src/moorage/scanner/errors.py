"""The scanner's exception types: every bad input ends in one of these, never a crash.

Hierarchy (each with the ``code`` a failed scan reports, docs/scan-report-format.md)::

    ScannerError               scan_failed
     +-- ImageSourceError      image_unreadable: the image cannot be opened (layout, archive, reference)
     |    +-- DigestMismatch   digest_mismatch: a blob's bytes do not hash to the digest that names it
     +-- LayerError            layer_unreadable: a layer is not a readable (compressed) tar stream
     |    +-- LimitExceeded    a LimitCode (layer_too_large, image_too_large...): past a ScanLimits bound
     +-- ParseError            malformed_input: a file or document is malformed
     +-- CacheError            cache_unusable: the layer cache is unusable
"""

from __future__ import annotations

from moorage.scanner.limits import LimitCode


class ScannerError(Exception):
    """Base of every error the scanner raises on purpose."""

    code = "scan_failed"
    """The failure code a scan that ends with this error reports."""


class ImageSourceError(ScannerError):
    """The image (layout, archive, root filesystem or registry reference) cannot be opened."""

    code = "image_unreadable"


class DigestMismatch(ImageSourceError):
    """A blob's content does not match its digest."""

    code = "digest_mismatch"


class LayerError(ScannerError):
    """A layer's stream is not a readable (optionally compressed) tar archive."""

    code = "layer_unreadable"


class LimitExceeded(LayerError):
    """The image is past one of the scan's bounds (``moorage.scanner.limits``): it is not scanned."""

    def __init__(self, code: LimitCode, message: str, *, setting: str, limit: int, layer_digest: str = "") -> None:
        super().__init__(message)
        self.code = code.value
        self.limit_code = code
        self.setting = setting
        """The ``ScanLimits`` field (and ``scanner`` setting) that bounds it."""
        self.limit = limit
        """The bound's value."""
        self.layer_digest = layer_digest
        """The layer being read when the bound was reached, if any."""

    def __reduce__(self) -> tuple[object, ...]:
        """Keyword arguments survive the trip back from a worker process."""
        return (_limit_exceeded, (self.limit_code, str(self), self.setting, self.limit, self.layer_digest))


def _limit_exceeded(code: LimitCode, message: str, setting: str, limit: int, layer_digest: str) -> LimitExceeded:
    return LimitExceeded(code, message, setting=setting, limit=limit, layer_digest=layer_digest)


class ParseError(ScannerError):
    """A file's content is not in the format its analyzer expects."""

    code = "malformed_input"


class CacheError(ScannerError):
    """The layer-result cache cannot be read or written."""

    code = "cache_unusable"


MALFORMED_JSON: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
"""What reading a JSON document into typed records raises when the document is not the expected shape.

OverflowError is here because Python's json accepts ``Infinity``: ``int(float("inf"))`` overflows.
"""
