"""HTTP for connections made on a tenant's behalf (httpx underneath).

- Every TCP connection is opened by ``EgressBackend``: it resolves the host itself, keeps the
  addresses the egress policy allows and connects to one of *those* addresses. What was checked is
  what is connected to (no second resolution between the check and the connect); TLS still names
  the host (SNI, certificate check) and the ``Host`` header is unchanged. Redirects and token
  realms open their connections the same way, so they are checked the same way.
- ``EgressSession`` follows redirects itself: at most the policy's number, only to http and https,
  and an ``Authorization`` header stays only while scheme, host and port stay those of the first
  request (never to another host, never from https down to http).
- Proxy variables and ``.netrc`` are ignored (``trust_env=False``): a tenant's request goes where the
  policy says, with the credentials the tenant gave.
- Answers are read as sent (``Accept-Encoding: identity``; an answer with any other
  ``Content-Encoding`` is refused before a byte is decoded, so no decompression bomb) and with a
  cap (``read_capped``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from moorage.clients.egress import EgressPolicy, IPAddress, normalise_host, parse_ip
from moorage.clients.errors import EgressDenied, RegistryError, TransferLimitError, UnreachableError

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class EgressBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows (see the module docstring)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def _addresses(self, host: str, port: int, resolve_seconds: float | None) -> list[str]:
        if self.policy.host_allowed(host):
            return [normalise_host(host)]
        if self.policy.name_denied(host):
            raise EgressDenied(f"{host}:{port} is a loopback name, which the egress policy denies")
        literal = parse_ip(host)
        resolved: list[IPAddress]
        if literal is not None:
            resolved = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                found = await asyncio.wait_for(
                    loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), resolve_seconds
                )
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"resolving {host}: timed out") from exc
            except OSError as exc:
                raise httpcore.ConnectError(f"resolving {host}: {exc}") from exc
            resolved = [a for a in dict.fromkeys(parse_ip(str(info[4][0])) for info in found) if a is not None]
        allowed = [str(a) for a in resolved if self.policy.address_allowed(a)]
        if not allowed:
            raise EgressDenied(
                f"{host}:{port} resolves to {', '.join(map(str, resolved)) or 'nothing'}, "
                "which the egress policy denies"
            )
        return allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first allowed address of ``host`` that answers."""
        failure: Exception | None = None
        for address in await self._addresses(host, port, timeout):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a tenant's connection is TCP."""
        raise EgressDenied("unix sockets are not reachable by tenants' connections")

    async def sleep(self, seconds: float) -> None:
        """See ``httpcore.AsyncNetworkBackend.sleep``."""
        await self._inner.sleep(seconds)


class EgressTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool opening connections through ``EgressBackend``.

    httpx's constructor offers no way to give its pool a network backend, so this one builds the
    pool itself; everything else (request mapping, errors) is httpx's own."""

    def __init__(self, policy: EgressPolicy, *, verify: bool = True) -> None:
        # super().__init__ would build a pool of its own only to have it replaced.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=EgressBackend(policy),
        )


def same_origin(first: httpx.URL, target: httpx.URL) -> bool:
    """Whether credentials sent to ``first`` may go to ``target``: same host and port, and not from
    https down to http."""
    return (
        normalise_host(first.host) == normalise_host(target.host)
        and (first.port or _default_port(first)) == (target.port or _default_port(target))
        and not (first.scheme == "https" and target.scheme != "https")
    )


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


class EgressSession:
    """An HTTP client for one remote (its base URL), under an egress policy; close it after use."""

    def __init__(
        self,
        base_url: str,
        *,
        policy: EgressPolicy,
        timeout: float,
        verify: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self.base_url = httpx.URL(base_url)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=transport or EgressTransport(policy, verify=verify),
            headers={"User-Agent": "moorage", "Accept-Encoding": "identity", **(headers or {})},
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    def url(self, url: str | httpx.URL) -> httpx.URL:
        """``url`` resolved against the base URL (``RegistryError`` when it is not a usable URL)."""
        try:
            return self.base_url.join(url)
        except httpx.InvalidURL as exc:
            raise RegistryError(
                f"unusable URL {str(url)[:200]!r}: {exc}", public="the registry named an unusable address"
            ) from exc

    async def open(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        authorization: str | None = None,
        authorization_origin: httpx.URL | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
    ) -> httpx.Response:
        """Send a request and follow its redirects; the answer is streamed (the caller closes it).

        ``authorization`` goes only to URLs of the same origin as ``authorization_origin`` (default:
        the base URL), whether asked for or reached by a redirect. ``content`` is the body: bytes are
        sent again after a redirect; a stream cannot be, so a redirect answering one is an error."""
        target = self.url(url)
        owner = authorization_origin or self.base_url
        if params:
            target = target.copy_merge_params(dict(params))
        if target.scheme not in ("http", "https"):
            raise EgressDenied(
                f"{target.scheme}: URLs are not followed",
                public="the registry named an address that is not http or https",
            )
        first = target
        for hop in range(self.policy.max_redirects + 1):
            sent = {**(headers or {})}
            if authorization is not None and same_origin(owner, target):
                sent["Authorization"] = authorization
            response = await self._send(self._http.build_request(method, target, headers=sent, content=content))
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            await response.aclose()
            if content is not None and not isinstance(content, bytes):
                raise RegistryError(
                    f"{method} {first}: redirected after a streamed body was sent",
                    public="the registry redirected an upload",
                )
            if hop == self.policy.max_redirects:
                raise RegistryError(
                    f"{method} {first}: more than {self.policy.max_redirects} redirects",
                    public="the registry redirected too many times",
                )
            try:
                target = target.join(location)
            except httpx.InvalidURL as exc:
                raise RegistryError(
                    f"{method} {first}: redirect to an unusable URL: {exc}",
                    public="the registry redirected to an unusable address",
                ) from exc
            if target.scheme not in ("http", "https"):
                raise EgressDenied(
                    f"{method} {first}: redirect to a {target.scheme}: URL",
                    public="the registry redirected to an address that is not http or https",
                )
            if response.status_code == 303 and method != "HEAD":
                method, content = "GET", None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UnreachableError(f"{request.method} {request.url}: timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            detail = f"{request.method} {request.url}: {type(exc).__name__}: {exc}"
            if _certificate_refused(exc):  # the one connection failure a tenant can act on: say it
                raise UnreachableError(detail, public=UNTRUSTED_CERTIFICATE) from exc
            raise UnreachableError(detail) from exc


UNTRUSTED_CERTIFICATE = (
    "the registry's TLS certificate is not trusted (mark the registry insecure to use one with a "
    "self-signed certificate)"
)


def _certificate_refused(error: BaseException) -> bool:
    """Whether certificate verification is what failed (the ssl error is a cause of httpx's)."""
    seen: BaseException | None = error
    for _ in range(16):  # a chain, not a cycle: bounded all the same
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def read_capped(response: httpx.Response, limit: int, *, what: str = "answer", truncate: bool = False) -> bytes:
    """The body of a streamed answer, at most ``limit`` bytes (``TransferLimitError`` past it, or
    the first ``limit`` bytes with ``truncate``); compressed answers are refused."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RegistryError(
            f"{response.request.url}: {what} sent with Content-Encoding {encoding[:32]!r}",
            public="the registry sent a compressed answer moorage did not ask for",
        )
    declared = response.headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise TransferLimitError(f"{response.request.url}: {what} of {declared} bytes, more than {limit}")
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                if truncate:
                    return bytes(body[:limit])
                raise TransferLimitError(f"{response.request.url}: {what} larger than {limit} bytes")
    except httpx.HTTPError as exc:
        raise UnreachableError(f"{response.request.url}: reading the {what}: {type(exc).__name__}: {exc}") from exc
    return bytes(body)
