"""The scanner's exception types: every bad input ends in one of these, never a crash.

Hierarchy::

    ScannerError
     +-- ImageSourceError      the image cannot be opened (bad layout, archive, reference, platform)
     |    +-- DigestMismatch   a blob's bytes do not hash to the digest that names it
     +-- LayerError            a layer cannot be read (bad compression, bad tar, size cap)
     +-- ParseError            a file an analyzer asked for is malformed
     +-- CacheError            the layer cache is unusable
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base of every error the scanner raises on purpose."""


class ImageSourceError(ScannerError):
    """The image (layout, archive, root filesystem or registry reference) cannot be opened."""


class DigestMismatch(ImageSourceError):
    """A blob's content does not match its digest."""


class LayerError(ScannerError):
    """A layer's stream is not a readable (optionally compressed) tar archive."""


class ParseError(ScannerError):
    """A file's content is not in the format its analyzer expects."""


class CacheError(ScannerError):
    """The layer-result cache cannot be read or written."""


MALFORMED_JSON: tuple[type[Exception], ...] = (KeyError, TypeError, ValueError, AttributeError, OverflowError)
"""What reading a JSON document into typed records raises when the document is not the expected shape.

OverflowError is here because Python's json accepts ``Infinity``: ``int(float("inf"))`` overflows.
"""
