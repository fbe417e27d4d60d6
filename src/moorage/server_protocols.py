"""uvicorn's httptools protocol with a bound on the request head.

uvicorn bounds the head only with its h11 parser (``h11_max_incomplete_event_size``); with httptools
(the faster parser, picked by default) a request line and headers of any size are buffered. This
subclass refuses a head larger than that same setting with 431 and closes the connection:

- exactly, from the parser's callbacks (the URL and each header as they complete);
- for a head still arriving (one endless header), from the bytes received since it began, with
  one socket read of slack (a read can end the previous request's body and start the next head).

The class is module-level (uvicorn's worker processes import it by name) and takes its bound from
the ``Config`` it is given, so one setting means the same for both parsers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

READ_SLACK = 256 * 1024
"""The most one socket read hands over (asyncio's and uvloop's read size)."""
_MESSAGE_431 = b"the request line and headers are too large\n"
_RESPONSE_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_MESSAGE_431), _MESSAGE_431)
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that answers 431 to an oversized request head (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_limit: int = self.config.h11_max_incomplete_event_size or 64 * 1024
        self._head_bytes = 0
        self._received_in_head = 0
        self._in_head = True
        self._refused = False

    def data_received(self, data: bytes) -> None:
        """Feed the parser, then refuse a head that grows past the bound without completing."""
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused:
            self._received_in_head += len(data)
            if self._received_in_head > self._head_limit + READ_SLACK:
                self._refuse()

    def on_message_begin(self) -> None:
        """A new request starts: its head is counted from here."""
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        """Count the request target (it arrives in pieces)."""
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header as ``name: value\\r\\n``."""
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is complete and within the bound: the body (if any) is the application's."""
        self._in_head = False
        self._received_in_head = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """What follows belongs to the next request's head."""
        super().on_message_complete()
        self._in_head = True

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self._head_limit:
            self._refuse()
            raise _HeadTooLarge  # stops the parser; uvicorn then answers with send_400_response

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, unless the error is the head bound (answered already)."""
        if self._refused:
            return
        super().send_400_response(msg)

    def _refuse(self) -> None:
        self._refused = True
        transport: asyncio.Transport = self.transport
        if not transport.is_closing():
            transport.write(_RESPONSE_431)
            transport.close()


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing an oversized head."""
