"""Request bodies at the edge, as one pure ASGI middleware for every route: how large a body may be,
and what happens to the part of a body that nobody reads.

- **Cap.** Every body but a blob upload's has a limit (``MOORAGE_HTTP__MAX_BODY_BYTES``; a
  manifest PUT ``MOORAGE_REGISTRY__MANIFEST_MAX_BYTES``). A larger ``Content-Length`` is answered
  413 at once, before the application runs or a byte is read; a chunked body is counted as it
  arrives, and the read that crosses the limit fails (``TooLarge``): whatever the application
  answers then is replaced by the 413. Nothing here buffers: the application reads as before.
- **Drain.** When the application answers before reading its whole body (an error, a route that
  takes none, a 413), the rest is read and dropped before the answer goes out, up to
  ``MOORAGE_HTTP__DRAIN_MAX_BYTES``, so the client sees the answer instead of a reset connection and
  can send its next request on the same connection. Past that budget, or when the client waits for
  ``100 Continue`` and so has not sent its body, the answer says ``Connection: close``.

The 413 is rendered in the dialect of the route (OCI or the management API's), like every other error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.api.errors import management_error_response, oci_error_response
from moorage.domain.errors import MoorageError, TooLarge

_CICD_UPLOAD = re.compile(r"^/v5/[^/]+/image/cicd/configurations/[^/]+/results$")
_UNLIMITED_OCI_KINDS = frozenset({"uploads", "upload"})
"""OCI routes whose bodies are blobs, streamed to storage (their size is the quota's business)."""


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The bounds this middleware applies (from settings)."""

    max_body_bytes: int
    """Every route but those below."""
    manifest_max_bytes: int
    """``PUT /v2/<name>/manifests/<reference>``."""
    drain_max_bytes: int
    """Unread body bytes dropped to keep a connection open."""
    cicd_upload_max_bytes: int = 0
    """``POST /v5/{project_id}/image/cicd/configurations/{cicd_id}/results`` (a pipeline's scan
    report); 0: ``max_body_bytes``."""

    def limit_for(self, scope: Scope) -> int | None:
        """The largest body the request's route takes; None for blob uploads."""
        oci = scope.get("oci")
        if oci is not None:
            kind = oci[0]
            if kind in _UNLIMITED_OCI_KINDS:
                return None
            if kind == "manifest" and scope["method"] == "PUT":
                return self.manifest_max_bytes
        if self.cicd_upload_max_bytes and scope["method"] == "POST" and _CICD_UPLOAD.match(scope["path"]):
            return self.cicd_upload_max_bytes
        return self.max_body_bytes


@dataclass(frozen=True, slots=True)
class Framing:
    """How the request says its body is delimited."""

    length: int | None
    """``Content-Length`` (None when absent or not a number)."""
    chunked: bool
    """``Transfer-Encoding: chunked``: the length is known only at the end."""
    expects_continue: bool
    """``Expect: 100-continue``: the client sends its body only once asked to."""

    @property
    def has_body(self) -> bool:
        """Whether any body byte may follow the headers."""
        return self.chunked or self.length is None or self.length > 0

    @classmethod
    def of(cls, scope: Scope) -> Framing | None:
        """The framing of ``scope``'s request, or None when it has no body at all (no
        ``Content-Length`` and no ``Transfer-Encoding``: the common GET)."""
        length: int | None = None
        chunked = False
        expects_continue = False
        framed = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                framed = True
                length = int(value) if value.isdigit() and len(value) <= 19 else None
            elif name == b"transfer-encoding":
                framed = True
                chunked = b"chunked" in value.lower()
            elif name == b"expect":
                expects_continue = value.lower() == b"100-continue"
        if not framed:
            return None
        return cls(length, chunked, expects_continue)


def error_response(scope: Scope, error: MoorageError) -> Response:
    """``error`` in the dialect of the request's route: OCI for registry paths and the token
    endpoint, the management dialect of the path otherwise."""
    if scope.get("oci") is not None or scope["path"].startswith("/service/"):
        return oci_error_response(error)
    return management_error_response(error, scope["path"])


class RequestBodyMiddleware:
    """Caps and drains request bodies (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, limits: BodyLimits, render: Callable[[Scope, MoorageError], Response] = error_response
    ) -> None:
        self.app = app
        self.limits = limits
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        framing = Framing.of(scope)
        if framing is None or not framing.has_body:
            await self.app(scope, receive, send)
            return
        limit = self.limits.limit_for(scope)
        body = _BodyCycle(receive, send, framing=framing, limit=limit, drain_max=self.limits.drain_max_bytes)
        if limit is not None and framing.length is not None and framing.length > limit:
            await body.answer(scope, self.render(scope, _too_large(framing.length, limit)))
            return
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.tripped or body.response_started:
                raise
        if body.tripped and not body.response_started:
            assert limit is not None
            await body.answer(scope, self.render(scope, _too_large(body.received, limit, chunked=True)))


def _too_large(size: int, limit: int, *, chunked: bool = False) -> TooLarge:
    said = f"more than {limit}" if chunked else str(size)
    return TooLarge(
        f"the request body ({said} bytes) exceeds this route's limit of {limit} bytes",
        detail={"limit": limit},
        reason="body_too_large",
    )


class _BodyCycle:
    """One request's body bookkeeping: bytes received, whether the end was seen, whether the cap
    was crossed, whether the answer has started."""

    def __init__(self, receive: Receive, send: Send, *, framing: Framing, limit: int | None, drain_max: int) -> None:
        self._receive = receive
        self._send = send
        self.framing = framing
        self.limit = limit
        self.drain_max = drain_max
        self.received = 0
        self.complete = False
        self.tripped = False
        self.response_started = False

    async def receive(self) -> Message:
        """The application's receive: counts, and fails the read that crosses the cap."""
        if self.tripped:
            raise _too_large(self.received, self.limit or 0, chunked=True)
        if self.complete:
            return await self._receive()
        message = await self._receive()
        self._account(message)
        if self.limit is not None and self.received > self.limit:
            self.tripped = True
            raise _too_large(self.received, self.limit, chunked=True)
        return message

    def _account(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        else:  # http.disconnect: nothing more will come
            self.complete = True

    async def send(self, message: Message) -> None:
        """The application's send: once the cap was crossed its answer is dropped (the middleware
        answers 413); before an answer starts, the unread body is drained."""
        if self.tripped:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
            if not await self._drain():
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
        await self._send(message)

    async def _drain(self) -> bool:
        """Read and drop the rest of the body, within the budget; whether the body ended."""
        if self.complete:
            return True
        if self.received == 0 and self.framing.expects_continue:
            return False  # the client waits for 100 Continue: asking for the body would make it send it
        if self.framing.length is not None and self.framing.length - self.received > self.drain_max:
            return False
        dropped = 0
        while not self.complete and dropped <= self.drain_max:
            message = await self._receive()
            before = self.received
            self._account(message)
            dropped += self.received - before
        return self.complete

    async def answer(self, scope: Scope, response: Response) -> None:
        """Send the middleware's own answer (the 413), after draining what the budget allows."""
        self.tripped = False
        await response(scope, self._receive_nothing, self.send)

    async def _receive_nothing(self) -> Message:
        return {"type": "http.disconnect"}
