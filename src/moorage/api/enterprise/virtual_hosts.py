"""Virtual hosting as one pure ASGI middleware: each HTTP request's ``Host`` decides, once, which
registry instance it addresses (``scope["state"]["instance_id"]``, read as
``request.state.instance_id`` by the OCI routes, the registry authorizer, the token endpoint and
the management API)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.services.enterprise.hosts import HostDirectory


class VirtualHostMiddleware:
    """Sets the request's registry instance from its ``Host`` header."""

    def __init__(self, app: ASGIApp, hosts: HostDirectory) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
            scope.setdefault("state", {})["instance_id"] = await self.hosts.instance_for_host(
                host, scheme=str(scope.get("scheme", "http"))
            )
        await self.app(scope, receive, send)


def current_instance(request: Request) -> str:
    """The instance resolver the OCI routes call (``app.state.instance_resolver``)."""
    return str(getattr(request.state, "instance_id", DEFAULT_INSTANCE))
