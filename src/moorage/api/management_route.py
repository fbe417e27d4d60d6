"""The route class of every management router: authorize from the headers before the body is read.

FastAPI reads and parses a route's body before it solves the route's dependencies, so with
authorization as a dependency an anonymous client could make the server read and parse a body it
will refuse. ``ManagementRoute`` calls ``deps.admit`` first; only an admitted request reaches
FastAPI's handler, which then reads the body (within the edge's cap, ``api/request_body.py``).

The handler gets a :class:`ManagementRequest`, whose ``json()`` bounds the nesting depth
(``MOORAGE_HTTP__MAX_JSON_DEPTH``: a deeper body is a 400 in the route's dialect), and which
replays the body when checking an SDK signature had to read it. ``IamRoute`` also reads a body
as JSON whatever its ``Content-Type`` says (as Keystone clients expect: ``curl -d`` sends
``application/x-www-form-urlencoded``), except ``multipart/form-data``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from moorage.api.deps import admit, get_services
from moorage.domain.bounded_json import loads
from moorage.domain.events import act_as

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ManagementRequest(Request):
    """A request whose JSON body is parsed with a bound on its nesting depth."""

    _bounded_json: Any

    async def json(self) -> Any:
        """The body as JSON (``JsonTooDeep``, a ``JSONDecodeError``, past the configured depth)."""
        if not hasattr(self, "_bounded_json"):
            depth = get_services(self).settings.http.max_json_depth
            self._bounded_json = loads(await self.body(), max_depth=depth)
        return self._bounded_json


class LenientJsonRequest(ManagementRequest):
    """A ``ManagementRequest`` that presents any body but form data as ``application/json``."""

    @property
    def headers(self) -> Headers:
        """The headers, with a missing or non-JSON ``Content-Type`` read as ``application/json``."""
        headers = super().headers
        content_type = headers.get("content-type", "")
        if _is_json(content_type) or content_type.lower().startswith("multipart/form-data"):
            return headers
        raw = [(k, v) for k, v in headers.raw if k != b"content-type"]
        return Headers(raw=[*raw, (b"content-type", b"application/json")])


def _is_json(content_type: str) -> bool:
    subtype = content_type.split(";", 1)[0].strip().lower()
    return subtype == "application/json" or (subtype.startswith("application/") and subtype.endswith("+json"))


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over ``body`` (already read from the client) once, then waits on the
    real one (for the disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class ManagementRoute(APIRoute):
    """Admit first, then let FastAPI read the body and run the handler (see the module docstring)."""

    request_class: type[ManagementRequest] = ManagementRequest

    def get_route_handler(self) -> Handler:
        """FastAPI's handler, behind the admission."""
        handler = super().get_route_handler()
        keeps_body = self.body_field is not None
        request_class = self.request_class

        async def admitted(request: Request) -> Response:
            admission = await admit(request, keeps_body=keeps_body)
            act_as(admission.principal)  # events this request records name the caller
            receive = request.receive if admission.body is None else _replaying(admission.body, request.receive)
            return await handler(request_class(request.scope, receive))

        return admitted


class IamRoute(ManagementRoute):
    """IAM's routes: JSON bodies whatever their ``Content-Type`` (see the module docstring)."""

    request_class = LenientJsonRequest
