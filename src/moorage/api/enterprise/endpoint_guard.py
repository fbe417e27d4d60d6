"""The endpoint policies' check of each request (one pure ASGI middleware, just inside virtual
hosting, outside the request-body middleware): a request to an instance's host names from a client
address its endpoint policy does not admit is answered 403 at once, before authentication and before
its body is read. The client address is ``client_address``'s (the TCP peer, or the forwarded address
behind ``MOORAGE_TRUSTED_PROXIES``). The answer speaks the dialect of the path: the OCI error body on
the registry API and the token endpoint, the management dialect of the path elsewhere."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from moorage.api.client_address import client_address, parse_address
from moorage.api.errors import management_error_response, oci_error_response
from moorage.domain.errors import Denied
from moorage.domain.registry import DEFAULT_INSTANCE
from moorage.services.enterprise.endpoint_policies import EndpointPolicyService

_REGISTRY_PATHS = ("/service/token", "/v2", "/v2/")


class EndpointGuardMiddleware:
    """Refuses requests to an instance from addresses its endpoint policy does not admit."""

    def __init__(self, app: ASGIApp, policies: EndpointPolicyService, *, registry: bool = False) -> None:
        self.app = app
        self.policies = policies
        self.registry = registry
        """Every path this middleware sees is the registry API's (the OCI dispatcher's chain)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            instance_id = scope.get("state", {}).get("instance_id", DEFAULT_INSTANCE)
            if instance_id != DEFAULT_INSTANCE:
                client = client_address(HTTPConnection(scope))
                if not await self.policies.admits(instance_id, parse_address(client)):
                    error = Denied(
                        f"requests from {client} to this registry instance are refused by its endpoint policy",
                        reason="endpoint_policy",
                    )
                    path: str = scope["path"]
                    if self.registry or path in _REGISTRY_PATHS:
                        response = oci_error_response(error)
                    else:
                        response = management_error_response(error, path)
                    # The body is left unread: the connection cannot carry another request.
                    response.headers["Connection"] = "close"
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
