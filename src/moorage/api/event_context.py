"""The event context of each request, opened at the edge: the client address and the registry
instance (from the host name, so inside ``VirtualHostMiddleware``), with an anonymous actor until the
caller is authenticated (the OCI dispatcher and ``ManagementRoute`` then name them with
``domain.events.act_as``). Services read it when they record an event (``domain/events.py`` says why
a context variable); it is restored when the request ends."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.api.client_address import client_address
from moorage.domain.events import ANONYMOUS_ACTOR, EventContext, event_context
from moorage.domain.registry import DEFAULT_INSTANCE


class EventContextMiddleware:
    """Opens the request's ``EventContext`` (pure ASGI: the handler runs in this very task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        instance_id = str(scope.get("state", {}).get("instance_id", DEFAULT_INSTANCE))
        context = EventContext(
            actor=ANONYMOUS_ACTOR, client_address=client_address(HTTPConnection(scope)), instance_id=instance_id
        )
        with event_context(context):
            await self.app(scope, receive, send)
