"""Hostile tests of the connections the server makes on a tenant's behalf (HSS external registries).

A domain administrator chooses a registry address, and whoever runs that registry chooses its
answers: redirects, token realms, sizes, JSON. None of it may take the server to an internal
address, hand the tenant's credentials to another host, tell the tenant which internal ports are
open, or make the server read more than the manifest declared.

127.0.0.1 is the internal network here (moorage itself listens on it); 127.0.0.2 and 127.0.0.3 are
the operator's allowed internal registry hosts (``MOORAGE_EGRESS__ALLOW_NETWORKS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import ipaddress
import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkhss.v5 import (
    AddRegistryRequest,
    AddRegistryRequestBody,
    CreateImageSynchronizeTaskRequest,
    CreateImageSynchronizeTaskRequestInfo,
    CreateImageSynchronizeTaskRequestInfoRegistryInfo,
    CreateManualImageScanTaskReqInfo,
    CreateManualImageScanTaskReqInfoImageInfo,
    CreateManualImageScanTaskRequest,
    HssClient,
    ListRegistryImagesRequest,
    ListRegistryRequest,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moorage.clients import Credentials, RegistryClient
from moorage.clients.egress import DENIED_NETWORKS, EgressPolicy
from moorage.clients.errors import (
    AuthenticationError,
    EgressDenied,
    RegistryError,
    TransferLimitError,
    UnreachableError,
)
from moorage.clients.limits import TransferLimits
from moorage.clients.reference import ImageReference
from moorage.clients.transport import EgressBackend
from moorage.scanner.errors import ImageSourceError
from moorage.scanner.sources.interface import LayerRef, ResolvedImage
from moorage.scanner.sources.registry import RegistrySource
from moorage.services.security.failures import failure_from
from tests.conftest import MoorageFactory, _factory
from tests.hostile.egress_servers import FakeHttp, TcpListener, closed_port, reply
from tests.hss.conftest import new_account
from tests.hss.support import hss_client, wait_for
from tests.support import swr_images as si
from tests.support.servers import ServerProcess, stop_all

ALLOWED = EgressPolicy.from_lists(allow_networks="127.0.0.2/32,127.0.0.3/32")
DEFAULT = EgressPolicy.from_lists()
NOT_ALLOWED = "the registry's address is not allowed by the egress policy"
UNREACHABLE = "the registry could not be reached"
BAD_ADDRESS = "registry_addr must be host[:port]"
USER, PASSWORD = "robot", "robot-password-kept-secret"
BASIC = Credentials(USER, PASSWORD).basic_header()


def refused(spelling: str) -> BaseException | None:
    """What the connection layer does with a host (None: it would connect)."""

    async def attempt() -> None:
        stream = await EgressBackend(DEFAULT).connect_tcp(spelling, 9, timeout=0.5)
        await stream.aclose()

    try:
        asyncio.run(attempt())
    except EgressDenied as exc:
        return exc
    except Exception as exc:  # anything but a refusal is reported by the caller's assertion
        return AssertionError(f"{spelling}: {type(exc).__name__}: {exc}")
    return None


# -- every spelling of an internal address ---------------------------------------------------------

DENIED_V4 = [n for n in DENIED_NETWORKS if n.version == 4]
DENIED_V6 = [n for n in DENIED_NETWORKS if n.version == 6 and n.prefixlen >= 7]


def _in(network: Any) -> st.SearchStrategy[Any]:
    return st.integers(0, network.num_addresses - 1).map(lambda i: network[i])


denied_v4 = st.sampled_from(DENIED_V4).flatmap(_in)
public_v4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address).filter(lambda a: not any(a in n for n in DENIED_V4))


def _number(value: int) -> st.SearchStrategy[str]:
    """One number as inet_aton reads it: decimal, octal (leading 0) or hex."""
    return st.sampled_from([str(value), f"0{value:o}", f"0x{value:x}", f"0X{value:X}"])


def v4_spellings(address: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """What the resolver reads as ``address``: 4, 3, 2 or 1 parts, each in any base."""
    a, b, c, d = address.packed
    n = int(address)
    return st.one_of(
        st.tuples(_number(a), _number(b), _number(c), _number(d)).map(".".join),
        st.tuples(_number(a), _number(b), _number(c << 8 | d)).map(".".join),
        st.tuples(_number(a), _number(n & 0xFFFFFF)).map(".".join),
        _number(n),
    )


def embedded_spellings(address: ipaddress.IPv4Address) -> st.SearchStrategy[str]:
    """IPv6 addresses that carry ``address``: IPv4-mapped, NAT64, 6to4, IPv4-compatible."""
    hi, lo = int(address) >> 16, int(address) & 0xFFFF
    return st.sampled_from(
        [
            f"::ffff:{address}",
            f"::FFFF:{hi:x}:{lo:x}",
            f"0:0:0:0:0:ffff:{address}",
            f"64:ff9b::{address}",
            f"64:ff9b::{hi:x}:{lo:x}",
            f"2002:{hi:x}:{lo:x}::1",
            f"::{address}",
        ]
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(denied_v4.flatmap(lambda a: st.one_of(v4_spellings(a), embedded_spellings(a))))
def test_every_spelling_of_an_internal_ipv4_address_is_refused(spelling: str) -> None:
    found = refused(spelling)
    assert isinstance(found, EgressDenied), found


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DENIED_V6).flatmap(_in), st.booleans())
def test_internal_ipv6_addresses_are_refused(address: ipaddress.IPv6Address, exploded: bool) -> None:
    found = refused(address.exploded.upper() if exploded else str(address))
    assert isinstance(found, EgressDenied), found


@settings(max_examples=50)
@given(public_v4)
def test_public_addresses_pass_in_every_ipv6_form(address: ipaddress.IPv4Address) -> None:
    assert DEFAULT.address_allowed(address)
    hi, lo = int(address) >> 16, int(address) & 0xFFFF
    for text in (f"::ffff:{address}", f"64:ff9b::{address}", f"2002:{hi:x}:{lo:x}::"):
        assert DEFAULT.address_allowed(ipaddress.ip_address(text)), text
    assert not DEFAULT.address_allowed(ipaddress.ip_address(f"::{address}")), "IPv4-compatible is deprecated"


def test_names_that_resolve_to_internal_addresses_are_refused() -> None:
    for name in ("localhost", "LOCALHOST.", "registry.localhost", "ip6-localhost"):
        assert isinstance(refused(name), EgressDenied) or name == "ip6-localhost", name
    names = ["ip6-localhost", socket.gethostname()]
    for name in names:
        try:
            resolved = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
        except OSError:
            continue  # not a name on this machine
        if all(not DEFAULT.address_allowed(ipaddress.ip_address(a.split("%")[0])) for a in resolved):
            assert isinstance(refused(name), EgressDenied), name
    assert isinstance(refused("169.254.169.254"), EgressDenied), "the cloud metadata address"


def test_operator_allowlists() -> None:
    policy = EgressPolicy.from_lists(
        allow_networks="10.20.0.0/16, fd00:1::/64", allow_hosts="registry.corp,*.build.corp"
    )
    assert policy.address_allowed(ipaddress.ip_address("10.20.3.4"))
    assert policy.address_allowed(ipaddress.ip_address("::ffff:10.20.3.4"))
    assert not policy.address_allowed(ipaddress.ip_address("10.21.0.1"))
    assert policy.address_allowed(ipaddress.ip_address("fd00:1::5"))
    assert policy.host_allowed("Registry.Corp.") and policy.host_allowed("a.build.corp")
    assert not policy.host_allowed("build.corp") and not policy.host_allowed("evilbuild.corp")
    with pytest.raises(ValueError):
        EgressPolicy.from_lists(allow_networks="10.0.0.0/33")
    with pytest.raises(ValueError):
        EgressPolicy.from_lists(allow_hosts="not a host")


def _one_port_on_two_addresses(servers: contextlib.ExitStack) -> tuple[FakeHttp, FakeHttp]:
    """A fake registry on 127.0.0.2 and another on 127.0.0.1 with the same port number (the port the
    first got may be taken on 127.0.0.1 by another process of the suite: then try another)."""
    for _ in range(20):
        with contextlib.ExitStack() as attempt:
            allowed = attempt.enter_context(FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.2"))
            try:
                internal = attempt.enter_context(
                    FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.1", port=allowed.port)
                )
            except OSError:
                continue
            servers.enter_context(attempt.pop_all())
            return allowed, internal
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


def test_the_address_checked_is_the_address_connected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves to an allowed address once and to a denied one after (DNS rebinding):
    the connection goes to the address that was checked, and the name is resolved once."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            lookups.append(host)
            return real("127.0.0.2" if len(lookups) == 1 else "127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with contextlib.ExitStack() as servers:
        allowed, internal = _one_port_on_two_addresses(servers)
        # One port number on both addresses: a client that resolved the name again would reach the second.
        port = allowed.port

        async def ping() -> None:
            async with RegistryClient(f"rebind.test:{port}", egress=ALLOWED, plain_http=True) as client:
                await client.ping()

        asyncio.run(ping())
    assert lookups == ["rebind.test"] and len(allowed.requests) == 1
    assert internal.requests == []
    assert allowed.requests[0].headers["host"] == f"rebind.test:{port}", "the Host header names the host"


# -- redirects, realms and credentials (the client, against fakes) ---------------------------------


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def ping(address: str, *, credentials: Credentials | None = None, policy: EgressPolicy = ALLOWED) -> None:
    async with RegistryClient(address, egress=policy, credentials=credentials, plain_http=True) as client:
        await client.ping()


def test_a_redirect_to_an_internal_address_is_refused() -> None:
    with FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.1") as internal:
        target = f"http://127.0.0.1:{internal.port}/v2/"
        with (
            FakeHttp(lambda fake, h: reply(h, 302, b"", {"Location": target})) as registry,
            pytest.raises(EgressDenied) as denied,
        ):
            run(ping(registry.address))
    assert internal.requests == [] and denied.value.public == NOT_ALLOWED
    assert "127.0.0.1" not in denied.value.public


def test_redirects_are_limited_and_kept_to_http() -> None:
    def loop(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        reply(h, 307, b"", {"Location": f"/v2/?hop={len(fake.requests)}"})

    with FakeHttp(loop) as registry:
        with pytest.raises(RegistryError, match="redirects"):
            run(ping(registry.address))
        assert len(registry.requests) == ALLOWED.max_redirects + 1
    for location in ("file:///etc/passwd", "gopher://127.0.0.2:70/x", "http://0177.0.0.1/v2/"):
        with FakeHttp(lambda fake, h, where=location: reply(h, 302, b"", {"Location": where})) as registry:
            with pytest.raises(RegistryError) as failed:
                run(ping(registry.address))
            assert "etc/passwd" not in failed.value.public and len(registry.requests) == 1


def test_credentials_do_not_follow_a_redirect_to_another_host() -> None:
    with FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.3") as other:

        def registry_route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
            if h.headers.get("Authorization") != BASIC:
                reply(h, 401, {"errors": [{"code": "UNAUTHORIZED"}]}, {"WWW-Authenticate": 'Basic realm="r"'})
            else:
                reply(h, 307, b"", {"Location": f"{other.url}/v2/"})

        with FakeHttp(registry_route) as registry:
            run(ping(registry.address, credentials=Credentials(USER, PASSWORD)))
    assert any(r.headers.get("authorization") == BASIC for r in registry.requests)
    assert len(other.requests) == 1 and "authorization" not in other.requests[0].headers


def bearer_registry(realm: str) -> FakeHttp:
    """A registry that wants a Bearer token from ``realm`` and accepts any."""

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        if (h.headers.get("Authorization") or "").startswith("Bearer "):
            reply(h, 200, {})
        else:
            reply(
                h,
                401,
                {"errors": [{"code": "UNAUTHORIZED"}]},
                {"WWW-Authenticate": f'Bearer realm="{realm}",service="fake"'},
            )

    return FakeHttp(route)


def token_service(host: str) -> FakeHttp:
    """A token service that gives a token to callers with the right Basic credentials only."""

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") == BASIC:
            reply(h, 200, {"token": "t0k3n", "expires_in": 300})
        else:
            reply(h, 401, {"errors": [{"code": "UNAUTHORIZED"}]})

    return FakeHttp(route, host=host)


def test_a_realm_on_another_host_gets_no_credentials() -> None:
    with (
        token_service("127.0.0.3") as realm,
        bearer_registry(f"{realm.url}/token") as registry,
        pytest.raises(AuthenticationError),
    ):
        run(ping(registry.address, credentials=Credentials(USER, PASSWORD)))
    assert realm.requests and all("authorization" not in r.headers for r in realm.requests)
    assert all(PASSWORD not in str(r) for r in realm.requests)


def test_a_realm_on_the_same_host_or_an_allowed_one_gets_them() -> None:
    with token_service("127.0.0.2") as realm, bearer_registry(f"{realm.url}/token") as registry:
        run(ping(registry.address, credentials=Credentials(USER, PASSWORD)))  # same host, another port
    assert realm.requests[0].headers["authorization"] == BASIC
    allowed = EgressPolicy.from_lists(allow_networks="127.0.0.2/32,127.0.0.3/32", credential_realm_hosts="127.0.0.3")
    with token_service("127.0.0.3") as realm, bearer_registry(f"{realm.url}/token") as registry:
        run(ping(registry.address, credentials=Credentials(USER, PASSWORD), policy=allowed))
    assert realm.requests[0].headers["authorization"] == BASIC


def test_a_realm_on_an_internal_address_is_refused() -> None:
    with (
        token_service("127.0.0.1") as realm,
        bearer_registry(f"{realm.url}/token") as registry,
        pytest.raises(EgressDenied),
    ):
        run(ping(registry.address, credentials=Credentials(USER, PASSWORD)))
    assert realm.requests == []


# -- sizes: what a registry declares is all it may send --------------------------------------------

LIE = 64 << 20
"""What a lying registry tries to send (the client must stop long before)."""
BUFFERS = 16 << 20
"""Generous room for what the kernel's socket buffers accept before the client hangs up."""


def blob_route(total: int, content_length: int | None, **extra: str) -> Any:
    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        fake.stream(
            h, total, content_length=content_length, headers={"Content-Type": "application/octet-stream", **extra}
        )

    return route


@pytest.mark.parametrize("content_length", [None, LIE], ids=["close-delimited", "honest-length"])
def test_a_blob_stops_at_its_declared_size(tmp_path: Path, content_length: int | None) -> None:
    digest = "sha256:" + hashlib.sha256(b"0123456789").hexdigest()

    async def download(address: str) -> int:
        async with RegistryClient(address, egress=ALLOWED, plain_http=True) as client:
            return await client.download_blob("r", digest, tmp_path / "blob", size=10)

    with FakeHttp(blob_route(LIE, content_length)) as registry, pytest.raises(TransferLimitError):
        run(download(registry.address))
    assert registry.sent < BUFFERS, f"{registry.sent} bytes were sent before the client stopped"
    assert list(tmp_path.iterdir()) == [], "no partial file is left"


def test_one_byte_more_than_declared_is_an_error(tmp_path: Path) -> None:
    data = b"0123456789"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data + b"!")

    async def download(address: str, size: int) -> int:
        async with RegistryClient(address, egress=ALLOWED, plain_http=True) as client:
            return await client.download_blob("r", digest, tmp_path / "blob", size=size)

    with FakeHttp(route) as registry, pytest.raises(TransferLimitError):
        run(download(registry.address, 10))
    with FakeHttp(blob_route(10, 10)) as registry, pytest.raises(RegistryError):
        run(download(registry.address, 10))  # exactly the size, but zeros: the digest check fails


def test_a_compressed_answer_is_not_inflated(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (16 << 20), compresslevel=1)

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        reply(h, 200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/octet-stream"})

    digest = "sha256:" + hashlib.sha256(b"x").hexdigest()

    async def download(address: str) -> int:
        async with RegistryClient(address, egress=ALLOWED, plain_http=True) as client:
            return await client.download_blob("r", digest, tmp_path / "blob", size=len(bomb) * 2)

    with FakeHttp(route) as registry, pytest.raises(RegistryError, match="Content-Encoding"):
        run(download(registry.address))


def json_route(body: bytes, *, length: bool = True, status: int = 200) -> Any:
    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/token"):
            fake.stream(h, LIE, content_length=None, headers={"Content-Type": "application/json"})
            return
        if "Authorization" not in h.headers and h.path.startswith("/v2/secure"):
            reply(h, 401, {}, {"WWW-Authenticate": f'Bearer realm="{fake.url}/token"'})
            return
        reply(h, status, body)

    return route


def test_token_answers_are_capped() -> None:
    async def tags(address: str) -> list[str]:
        async with RegistryClient(
            address, egress=ALLOWED, plain_http=True, credentials=Credentials(USER, PASSWORD)
        ) as client:
            return await client.list_tags("secure/app")

    with FakeHttp(json_route(b"{}")) as registry, pytest.raises(TransferLimitError):
        run(tags(registry.address))
    assert registry.sent < BUFFERS


def test_listings_are_capped_in_size_and_depth() -> None:
    small = TransferLimits(json_bytes=1 << 20)

    async def tags(address: str) -> list[str]:
        async with RegistryClient(address, egress=ALLOWED, plain_http=True, limits=small) as client:
            return await client.list_tags("app")

    huge = json.dumps({"tags": ["x" * 100] * 20000}).encode()  # 2 MiB
    with FakeHttp(json_route(huge)) as registry, pytest.raises(TransferLimitError):
        run(tags(registry.address))
    deep = b'{"tags": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for body in (deep, b'{"tags": ' + b"[" * 65 + b"]" * 65 + b"}"):
        with FakeHttp(json_route(body)) as registry:
            with pytest.raises(TransferLimitError) as failed:
                run(tags(registry.address))
            assert "nested" in failed.value.public
    with FakeHttp(json_route(b'{"tags": ["a"], "x": ' + b"[" * 60 + b"]" * 60 + b"}")) as registry:
        assert run(tags(registry.address)) == ["a"]


def test_a_deeply_nested_manifest_is_a_manifest_error_not_a_crash() -> None:
    deep = b'{"schemaVersion": 2, "layers": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    async def resolve(address: str) -> Any:
        async with RegistryClient(address, egress=ALLOWED, plain_http=True) as client:
            return await client.resolve_image("app", "1", None)

    with FakeHttp(json_route(deep)) as registry, pytest.raises(RegistryError, match="nested deeper"):
        run(resolve(registry.address))


def test_the_image_size_limit_counts_the_bytes_downloaded(tmp_path: Path) -> None:
    layers = [bytes([i]) * (1 << 20) for i in range(3)]
    digests = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        data = layers[digests.index(h.path.rsplit("/", 1)[1])]
        reply(h, 200, data, {"Content-Type": "application/octet-stream"})

    with FakeHttp(route) as registry:
        source = RegistrySource(
            ImageReference(registry.address, "app", digest=digests[0]),
            egress=ALLOWED,
            plain_http=True,
            max_image_bytes=(5 << 20) // 2,
        )
        refs = tuple(LayerRef(d, "", len(data)) for d, data in zip(digests, layers, strict=True))
        image = ResolvedImage("app", digests[0], None, refs, {})
        with source, pytest.raises(ImageSourceError) as failed:
            source.fetch(image, refs)
    assert failure_from(failed.value).code == "image_over_sized"
    assert source.budget is not None and source.budget.used <= (3 << 20)


# -- through the API and the SDK ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    factory: MoorageFactory
    factory, started = _factory(request, tmp_path_factory.mktemp("egress"))
    yield factory(
        env={
            "MOORAGE_EGRESS__ALLOW_NETWORKS": "127.0.0.2/32,127.0.0.3/32",
            "MOORAGE_JOBS__RECOVER_INTERVAL_SECONDS": "1",
            "MOORAGE_SCANNER__LAYER_CACHE": "none",
        }
    )
    stop_all(started)


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> HssClient:
    return hss_client(server, new_account(server, "egress-admin").keys)


def add(client: HssClient, name: str, address: str, *, kind: str = "Other", username: str = USER) -> str:
    """Add a registry; its id (``ClientRequestException`` when refused)."""
    client.add_registry(
        AddRegistryRequest(
            body=AddRegistryRequestBody(
                registry_name=name,
                registry_type=kind,
                api_version="V2",
                protocol="http",
                registry_addr=address,
                registry_username=username,
                registry_password=PASSWORD,
            )
        )
    )
    return str(client.list_registry(ListRegistryRequest(registry_name=name, limit=10)).data_list[0].id)


def refusal(client: HssClient, address: str, name: str) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as refused_:
        add(client, name, address)
    return refused_.value


def test_sdk_refuses_every_spelling_of_an_internal_address(client: HssClient, server: ServerProcess) -> None:
    with TcpListener("127.0.0.1") as v4, TcpListener("::1") as v6:
        port = v4.port
        resolved_to_internal = [
            f"127.0.0.1:{port}",
            f"LOCALHOST:{port}",
            f"localhost.:{port}",
            f"[::ffff:127.0.0.1]:{port}",
            f"[::ffff:7f00:1]:{port}",
            f"[0:0:0:0:0:ffff:7f00:1]:{port}",
            f"0.0.0.0:{port}",
            f"[::]:{port}",
            f"[::1]:{v6.port}",
            f"[2002:7f00:1::]:{port}",
            f"169.254.169.254:{port}",
            f"10.0.0.1:{port}",
            f"100.64.0.1:{port}",
            f"224.0.0.1:{port}",
            f"[fc00::1]:{port}",
            f"[fe80::1]:{port}",
            f"127.0.0.1:{server.port}",
        ]
        numeric = [
            f"2130706433:{port}",
            f"0x7f000001:{port}",
            f"0177.0.0.1:{port}",
            f"0x7f.0.0.1:{port}",
            f"127.1:{port}",
            f"127.0.1:{port}",
        ]
        for address in resolved_to_internal + numeric:
            found = refusal(client, address, "refused")
            assert found.status_code == 400, (address, found.error_msg)
            expected = NOT_ALLOWED if address in resolved_to_internal else BAD_ADDRESS
            assert found.error_msg.startswith(expected), (address, found.error_msg)
            assert str(port) not in found.error_msg.replace(address, "")
        assert (v4.accepted, v6.accepted) == (0, 0), "no connection reached the internal listeners"
    assert client.list_registry(ListRegistryRequest(registry_name="refused", limit=200)).total_num == 0


def test_sdk_open_and_closed_internal_ports_read_the_same(client: HssClient) -> None:
    with TcpListener("127.0.0.1") as internal, TcpListener("127.0.0.2") as allowed:
        answers = {
            where: refusal(client, where, "open-or-closed")
            for where in (
                f"127.0.0.1:{internal.port}",
                f"127.0.0.1:{closed_port('127.0.0.1')}",
                f"127.0.0.2:{allowed.port}",
                f"127.0.0.2:{closed_port('127.0.0.2')}",
            )
        }
        assert internal.accepted == 0 and allowed.accepted >= 1
    texts = [(a.status_code, a.error_code, a.error_msg) for a in answers.values()]
    assert texts[0] == texts[1] and texts[0][2] == NOT_ALLOWED
    assert texts[2] == texts[3] and texts[2][2] == UNREACHABLE, "open (not a registry) and closed read the same"


def test_sdk_redirect_to_an_internal_address_is_refused(client: HssClient) -> None:
    with FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.1") as internal:
        target = f"http://127.0.0.1:{internal.port}/v2/"
        with FakeHttp(lambda fake, h: reply(h, 302, b"", {"Location": target})) as registry:
            found = refusal(client, registry.address, "redirected")
    assert (found.status_code, found.error_msg) == (400, NOT_ALLOWED)
    assert len(registry.requests) == 1 and internal.requests == []


def test_sdk_realm_on_another_host_gets_no_credentials(client: HssClient) -> None:
    with token_service("127.0.0.3") as realm, bearer_registry(f"{realm.url}/token") as registry:
        found = refusal(client, registry.address, "realm-elsewhere")
    assert found.status_code == 400 and "authentication failed" in found.error_msg
    assert realm.requests and all("authorization" not in r.headers for r in realm.requests)


def test_sdk_sync_that_is_redirected_inward_fails_in_general_terms(client: HssClient) -> None:
    with FakeHttp(lambda fake, h: reply(h, 200, {}), host="127.0.0.1") as internal:

        def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
            if h.path.startswith("/v2/_catalog"):
                reply(h, 302, b"", {"Location": f"http://127.0.0.1:{internal.port}/v2/_catalog"})
            else:
                reply(h, 200, {})

        with FakeHttp(route) as registry:
            registry_id = add(client, "redirects-later", registry.address)
            client.create_image_synchronize_task(
                CreateImageSynchronizeTaskRequest(
                    body=CreateImageSynchronizeTaskRequestInfo(
                        sync_all_registries=False,
                        registry_info=[
                            CreateImageSynchronizeTaskRequestInfoRegistryInfo(
                                registry_id=registry_id, registry_type="Other"
                            )
                        ],
                    )
                )
            )
            entry = wait_for(
                lambda: next(
                    (
                        r
                        for r in client.list_registry(ListRegistryRequest(registry_id=registry_id)).data_list
                        if r.status == "fail" or r.latest_sync_time
                    ),
                    None,
                ),
                what="the sync",
            )
    assert (entry.status, entry.fail_reason) == ("fail", f"REQUEST_API_ERROR: {NOT_ALLOWED}")
    assert internal.requests == []


def test_sdk_scan_of_a_layer_larger_than_declared_stops_at_its_size(client: HssClient) -> None:
    real = si.image([{"etc/os-release": b"ID=liar\n"}], label="liar")
    config, layer = real.blobs[0], real.blobs[1]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": si.OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [{**layer.descriptor(), "size": 10}],
        }
    ).encode()
    digest = si.sha256(manifest)

    def route(fake: FakeHttp, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        if path == "/v2/_catalog":
            reply(h, 200, {"repositories": ["liar/app"]})
        elif path == "/v2/liar/app/tags/list":
            reply(h, 200, {"name": "liar/app", "tags": ["1"]})
        elif path.startswith("/v2/liar/app/manifests/"):
            reply(h, 200, manifest, {"Content-Type": si.OCI_MANIFEST, "Docker-Content-Digest": digest})
        elif path == f"/v2/liar/app/blobs/{config.digest}":
            reply(h, 200, config.data, {"Content-Type": "application/octet-stream"})
        elif path == f"/v2/liar/app/blobs/{layer.digest}":
            fake.stream(h, LIE, content_length=None)
        else:
            reply(h, 200, {})

    with FakeHttp(route) as registry:
        registry_id = add(client, "liar", registry.address, username="")
        client.create_image_synchronize_task(
            CreateImageSynchronizeTaskRequest(
                body=CreateImageSynchronizeTaskRequestInfo(
                    sync_all_registries=False,
                    registry_info=[
                        CreateImageSynchronizeTaskRequestInfoRegistryInfo(
                            registry_id=registry_id, registry_type="Other"
                        )
                    ],
                )
            )
        )
        row = wait_for(
            lambda: next(
                iter(client.list_registry_images(ListRegistryImagesRequest(registry_name="liar")).data_list), None
            ),
            what="the synchronisation",
        )
        client.create_manual_image_scan_task(
            CreateManualImageScanTaskRequest(
                body=CreateManualImageScanTaskReqInfo(
                    is_all=False, image_info=[CreateManualImageScanTaskReqInfoImageInfo(id=row.id)]
                )
            )
        )
        scanned = wait_for(
            lambda: next(
                (
                    r
                    for r in client.list_registry_images(ListRegistryImagesRequest(registry_name="liar")).data_list
                    if r.scan_status in ("success", "failed")
                ),
                None,
            ),
            what="the scan",
        )
    assert (scanned.scan_status, scanned.scan_failed_code) == ("failed", "download_failed")
    assert any(layer.digest in r.path for r in registry.requests), "the layer was asked for"
    assert registry.sent < BUFFERS, f"{registry.sent} bytes streamed for a layer declared as 10"


def test_unreachable_is_what_a_tenant_reads_when_the_error_is_unexpected() -> None:
    from moorage.clients.errors import public_reason

    assert public_reason(OSError("[Errno 111] Connection refused to 10.1.2.3:22")) == UNREACHABLE
    assert public_reason(UnreachableError("GET http://10.1.2.3:22/v2/: ConnectError")) == UNREACHABLE
