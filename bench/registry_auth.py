"""Client-side registry authentication for the benchmark, done the way docker and skopeo do it.

A request goes out anonymously until the server answers 401. A ``Basic`` challenge makes every
later request carry the credentials; a ``Bearer`` challenge makes the client fetch a token for the
challenge's scope from its realm (with the credentials), cache it per repository, and resend the
request. A cached token that stops working (401 again) is fetched anew once.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass, field

import httpx

_CHALLENGE_PARAMETER = re.compile(r'(\w+)="([^"]*)"')
_REPOSITORY_PATH = re.compile(
    r"^/v2/(?P<name>.+)/(?:blobs/uploads/[^/]*|blobs/[^/]+|manifests/[^/]+|tags/list|referrers/[^/]+)$"
)


class AuthError(Exception):
    """The server wants credentials the benchmark does not have, or its token endpoint failed."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password the registry accepts."""

    username: str
    password: str

    def basic(self) -> str:
        """The ``Authorization`` value for Basic authentication."""
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header."""

    scheme: str
    parameters: dict[str, str]

    @classmethod
    def parse(cls, header: str) -> Challenge:
        """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm="..."``)."""
        scheme, _, rest = header.strip().partition(" ")
        return cls(scheme.lower(), dict(_CHALLENGE_PARAMETER.findall(rest)))


def cache_key(target: str) -> str:
    """What a token is cached under: the repository a path names, ``catalog``, or ``registry``."""
    path = target.split("?", 1)[0]
    if match := _REPOSITORY_PATH.match(path):
        return f"repository:{match['name']}"
    return "catalog" if path.startswith("/v2/_catalog") else "registry"


@dataclass
class RegistryAuth:
    """Per-server authentication state shared by every connection of one benchmark target."""

    credentials: Credentials | None = None
    basic: bool = False
    tokens: dict[str, str] = field(default_factory=dict)
    token_fetches: int = 0
    _pending: dict[tuple[int, str], asyncio.Future[str]] = field(default_factory=dict)

    def authorization(self, target: str) -> str | None:
        """The ``Authorization`` value to send with a request for ``target``, if any is known yet."""
        if self.basic and self.credentials is not None:
            return self.credentials.basic()
        return self.tokens.get(cache_key(target))

    def _token_request(self, target: str, challenge: Challenge) -> tuple[str, dict[str, str], dict[str, str]]:
        """The realm, query and headers of a token request covering everything the benchmark does
        to ``target``'s repository: the challenge of a HEAD names only ``pull``, but a push follows."""
        if self.credentials is None:
            raise AuthError("the server asks for credentials and the benchmark has none for it")
        realm = challenge.parameters.get("realm")
        if not realm:
            raise AuthError(f"a Bearer challenge without a realm: {challenge.parameters}")
        query: dict[str, str] = {}
        if "service" in challenge.parameters:
            query["service"] = challenge.parameters["service"]
        key = cache_key(target)
        if key.startswith("repository:"):
            query["scope"] = f"{key}:pull,push"
        elif "scope" in challenge.parameters:
            query["scope"] = challenge.parameters["scope"]
        return realm, query, {"Authorization": self.credentials.basic()}

    def _accept(self, target: str, challenge: Challenge, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise AuthError(f"token endpoint answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("token endpoint answered without a token")
        self.token_fetches += 1
        header = f"Bearer {token}"
        self.tokens[cache_key(target)] = header
        return header

    def _basic_challenge(self, challenge: Challenge) -> bool:
        if challenge.scheme != "basic":
            return False
        if self.credentials is None:
            raise AuthError("the server asks for Basic credentials and the benchmark has none for it")
        self.basic = True
        return True

    def describe(self) -> str:
        """How the client ended up authenticating: anonymous, Basic, or Bearer with N token fetches."""
        if self.basic:
            return "Basic credentials"
        return f"Bearer tokens ({self.token_fetches} fetched)" if self.token_fetches else "anonymous"

    def answer(self, target: str, www_authenticate: str) -> None:
        """Act on a 401's challenge for ``target`` (blocking), so that the request can be resent."""
        challenge = Challenge.parse(www_authenticate)
        if self._basic_challenge(challenge):
            return
        self.tokens.pop(cache_key(target), None)
        realm, query, headers = self._token_request(target, challenge)
        self._accept(target, challenge, httpx.get(realm, params=query, headers=headers, timeout=60.0))

    async def answer_async(self, target: str, www_authenticate: str) -> None:
        """``answer`` on the event loop; concurrent 401s for one repository share one token fetch."""
        challenge = Challenge.parse(www_authenticate)
        if self._basic_challenge(challenge):
            return
        loop = asyncio.get_running_loop()
        key = (id(loop), cache_key(target))
        pending = self._pending.get(key)
        if pending is not None:
            await pending
            return
        future: asyncio.Future[str] = loop.create_future()
        self._pending[key] = future
        try:
            self.tokens.pop(cache_key(target), None)
            realm, query, headers = self._token_request(target, challenge)
            async with httpx.AsyncClient(timeout=60.0) as client:
                response = await client.get(realm, params=query, headers=headers)
            future.set_result(self._accept(target, challenge, response))
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved here, so waiters alone report it
            raise
        finally:
            del self._pending[key]


@dataclass(frozen=True)
class RegistryEndpoint:
    """Where a benchmark target listens and how to authenticate to it."""

    base_url: str
    auth: RegistryAuth = field(default_factory=RegistryAuth)
    server_pid: int | None = None
    """The server's process (its tree's CPU time is reported per workload), when the harness started it."""
