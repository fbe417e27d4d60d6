"""One dispatcher for every OCI route: parse the path, compute the access it needs, authorize once,
run the handler, and render any domain error in the OCI dialect.

Repository names contain ``/``, so routes are matched by the suffix after the name
(``/blobs/...``, ``/manifests/...``, ``/tags/list``, ``/referrers/...``), with the name taken
greedily: the last such suffix wins. Management routes under ``/v2/manage`` and
``/v2/{project_id}/...`` are registered before this route and win.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from moorage.api.access import AUTHENTICATED, DELETE, PULL, PUSH, Access, Principal
from moorage.api.errors import oci_error_response
from moorage.domain.errors import Denied, MoorageError, Unauthenticated, Unsupported
from moorage.domain.events import act_as
from moorage.domain.names import RepositoryName
from moorage.domain.registry import DEFAULT_INSTANCE

log = logging.getLogger(__name__)

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}

_PATH = re.compile(
    r"^/v2/(?P<name>.+)/(?:"
    r"(?P<uploads>blobs/uploads/?(?P<upload>[^/]*))"
    r"|blobs/(?P<digest>[^/]+)"
    r"|manifests/(?P<reference>[^/]+)"
    r"|(?P<tags>tags/list)"
    r"|referrers/(?P<subject>[^/]+)"
    r")$"
)


@dataclass(frozen=True, slots=True)
class OciContext:
    """What a handler gets besides the request: the parsed path, the instance, the caller."""

    instance_id: str
    name: RepositoryName | None
    params: Mapping[str, str]
    principal: Principal

    @property
    def repository(self) -> RepositoryName:
        """The repository name of a per-repository route."""
        if self.name is None:
            raise LookupError("this route has no repository name")
        return self.name


Handler = Callable[[Request, OciContext], Awaitable[Response]]
AccessRule = Callable[[RepositoryName | None, Request], list[Access]]


@dataclass(frozen=True, slots=True)
class OciEndpoint:
    """One (route kind, method): its handler and the access it requires."""

    kind: str
    method: str
    handler: Handler
    access: AccessRule


def repository_access(*actions: str) -> AccessRule:
    """The rule "these actions on the repository in the path"."""

    def rule(name: RepositoryName | None, _request: Request) -> list[Access]:
        assert name is not None
        return [Access("repository", str(name), actions)]

    return rule


def parse_path(path: str) -> tuple[str, str | None, dict[str, str]] | None:
    """(route kind, repository name or None, path parameters), or None if not an OCI path."""
    if path in ("/v2/", "/v2"):
        return "base", None, {}
    if path == "/v2/_catalog":
        return "catalog", None, {}
    m = _PATH.fullmatch(path)
    if m is None:
        return None
    groups = m.groupdict()
    if groups["uploads"] is not None:
        upload = groups["upload"] or ""
        return ("upload" if upload else "uploads"), groups["name"], {"upload": upload}
    for kind, key in (("blob", "digest"), ("manifest", "reference"), ("referrers", "subject")):
        if groups[key] is not None:
            return kind, groups["name"], {key: groups[key]}
    return "tags", groups["name"], {}


class OciRoute(BaseRoute):
    """The route that serves every OCI path."""

    def __init__(self, endpoints: list[OciEndpoint]) -> None:
        self._endpoints = {(e.kind, e.method): e for e in endpoints}
        self._kinds = {e.kind for e in endpoints}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Full match for any OCI-shaped path (the method is checked when handling)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        parsed = parse_path(scope["path"])
        if parsed is None or parsed[0] not in self._kinds:
            return Match.NONE, {}
        return Match.FULL, {"oci": parsed}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """OCI routes are not reversed by name."""
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authorize and dispatch; errors become OCI error bodies."""
        request = Request(scope, receive)
        response = await self._dispatch(request, scope["oci"])
        response.headers.update(API_VERSION_HEADER)
        # An early answer (416, 401, 400...) to a request whose body is still arriving: the edge's
        # RequestBodyMiddleware reads the rest first, or the client would see its connection reset.
        await response(scope, receive, send)

    async def _dispatch(self, request: Request, parsed: tuple[str, str | None, dict[str, str]]) -> Response:
        kind, raw_name, params = parsed
        method = "GET" if request.method == "HEAD" and (kind, "HEAD") not in self._endpoints else request.method
        endpoint = self._endpoints.get((kind, method))
        try:
            if endpoint is None:
                allowed = sorted({m for (k, m) in self._endpoints if k == kind})
                raise Unsupported(f"{request.method} is not allowed here (allowed: {', '.join(allowed)})")
            name = RepositoryName.parse(raw_name) if raw_name is not None else None
            required = endpoint.access(name, request)
        except MoorageError as error:
            return oci_error_response(error)
        authorizer = request.app.state.authorizer
        try:
            principal = await authorizer.authorize(request, required)
            act_as(principal)  # events this request records name the caller
            context = OciContext(_instance_for(request), name, params, principal)
            return await endpoint.handler(request, context)
        except Unauthenticated as error:
            return oci_error_response(error, authorizer.challenge_headers(request, required, error.reason or None))
        except Denied as error:
            challenge = authorizer.challenge_headers(request, required, error.reason) if error.reason else None
            return oci_error_response(error, challenge)

        except MoorageError as error:
            return oci_error_response(error)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening; the upload keeps its old size
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return oci_error_response(MoorageError("internal error"))


def _instance_for(request: Request) -> str:
    """The registry instance a request addresses (Enterprise Edition instances: by host name)."""
    resolver = getattr(request.app.state, "instance_resolver", None)
    if resolver is None:
        return DEFAULT_INSTANCE
    instance: str = resolver(request)
    return instance


__all__ = [
    "AUTHENTICATED",
    "DELETE",
    "PULL",
    "PUSH",
    "OciContext",
    "OciEndpoint",
    "OciRoute",
    "repository_access",
]
