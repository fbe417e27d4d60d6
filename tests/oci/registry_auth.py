"""Registry credentials for the black-box suites: the Docker token flow as real clients do it.

A server started by tests/support/registry_target.py with an administrator has its credentials in
its environment. ``RegistryTokenAuth`` answers a 401 ``Bearer`` challenge by fetching a token with
Basic credentials from the realm, for the challenge's scope plus full rights on the repository
the request names (and pull on a mount's ``from``), then caches the token per repository so each
repository costs one token request. A server that asks for nothing is never sent anything.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Generator

import httpx

from tests.support.servers import ServerProcess

ADMIN_USER_ENV = "MOORAGE_AUTH__ADMIN_USER"
ADMIN_PASSWORD_ENV = "MOORAGE_AUTH__ADMIN_PASSWORD"
_REPOSITORY_PATH = re.compile(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/")
_CHALLENGE_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def registry_credentials(server: ServerProcess) -> tuple[str, str] | None:
    """The administrator ``(user, password)`` the server was started with, if any."""
    password = server.env.get(ADMIN_PASSWORD_ENV)
    if not password:
        return None
    return server.env.get(ADMIN_USER_ENV, "admin"), password


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="..",service="..",scope=".."`` -> (``bearer``, parameters)."""
    scheme, _, rest = header.strip().partition(" ")
    params = {key.lower(): re.sub(r"\\(.)", r"\1", value) for key, value in _CHALLENGE_PARAM.findall(rest)}
    return scheme.lower(), params


def _scope_key(url: httpx.URL) -> tuple[str, list[str]]:
    """Cache key and the scopes a request to ``url`` needs beyond its challenge."""
    path = url.path
    if path.startswith("/v2/_catalog"):
        return "catalog", ["registry:catalog:*"]
    match = _REPOSITORY_PATH.match(path)
    if not match:
        return "", []
    name = match.group(1)
    scopes = [f"repository:{name}:pull,push,delete"]
    source = url.params.get("from")
    if url.params.get("mount") and source:
        scopes.append(f"repository:{source}:pull")
        return f"{name}|{source}", scopes
    return name, scopes


class RegistryTokenAuth(httpx.Auth):
    """httpx authentication that follows Bearer challenges with Basic credentials (thread-safe cache)."""

    requires_response_body = True

    def __init__(self, username: str, password: str) -> None:
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def headers_for(self, url: httpx.URL) -> dict[str, str]:
        """The ``Authorization`` header cached for requests to ``url`` (empty when none is)."""
        key, _ = _scope_key(url)
        with self._lock:
            token = self._tokens.get(key)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key, scopes = _scope_key(request.url)
        with self._lock:
            token = self._tokens.get(key)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            request.headers["Authorization"] = self._basic
            yield request
            return
        if scheme != "bearer" or "realm" not in params:
            return
        query: list[tuple[str, str | int | float | bool | None]] = [("service", params.get("service", ""))]
        wanted = dict.fromkeys([*params.get("scope", "").split(), *scopes])
        query += [("scope", scope) for scope in wanted if scope]
        token_request = httpx.Request("GET", params["realm"], params=query, headers={"Authorization": self._basic})
        token_response = yield token_request
        if token_response.status_code != 200:
            raise AssertionError(f"token request failed: {token_response.status_code} {token_response.text}")
        body = token_response.json()
        token = str(body.get("token") or body.get("access_token"))
        with self._lock:
            self._tokens[key] = token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


_ACTION_OF_METHOD = {"GET": "pull", "HEAD": "pull", "POST": "push", "PATCH": "push", "PUT": "push"}


class PerActionTokenAuth(httpx.Auth):
    """The token cache of the spec's newest conformance client (its default, ``cacheAuth``): one token
    per repository and kind of request (GET and HEAD share one, POST, PATCH and PUT another, DELETE
    its own), each fetched for exactly the scope the challenge names. So a GET of an upload session
    goes out with the token of the repository's earlier reads, not with the one the chunks used."""

    requires_response_body = True

    def __init__(self, username: str, password: str) -> None:
        self._basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(request: httpx.Request) -> str:
        match = re.match(r"^/v2/(.+?)/(?:blobs|manifests|tags|referrers)/", request.url.path)
        return f"{match.group(1) if match else ''}:{_ACTION_OF_METHOD.get(request.method, request.method)}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        key = self._key(request)
        with self._lock:
            cached = self._tokens.get(key)
        if cached:
            request.headers["Authorization"] = cached
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            authorization = self._basic
        else:
            query: list[tuple[str, str | int | float | bool | None]] = [("service", params.get("service", ""))]
            if params.get("scope"):
                query.append(("scope", params["scope"]))
            token_response = yield httpx.Request(
                "GET", params["realm"], params=query, headers={"Authorization": self._basic}
            )
            assert token_response.status_code == 200, token_response.text
            body = token_response.json()
            authorization = f"Bearer {body.get('token') or body.get('access_token')}"
        with self._lock:
            self._tokens[key] = authorization
        request.headers["Authorization"] = authorization
        yield request
